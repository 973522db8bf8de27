//! The mean over space of a C×H×W image, y_c = (1/(H·W)) Σ_{i,j} x_{c,i,j}:
//! global average pooling, which turns a convolutional encoder's image into
//! a vector. The kernels are the mean over time's (a plane is a channel's
//! H·W positions in a row); ∂ℓ/∂x_{c,i,j} = ∂ℓ/∂y_c / (H·W).

use super::mean_time;
use crate::nn::Shape;
use crate::nn::kind::{Backward, Field, Forward, Init, Kind, KindSet, Output, parameterless};

/// The mean over space: no settings.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct MeanSpace;

parameterless!(MeanSpace);

// The registry's interface: every kind answers the same calls.
#[allow(clippy::unused_self, clippy::unnecessary_wraps)]
impl MeanSpace {
    pub(crate) const fn output(self, input: Shape) -> Result<Shape, &'static str> {
        match input {
            Shape::Image { channels, .. } => Ok(Shape::Flat(channels)),
            _ => Err("MeanSpace needs a C×H×W image"),
        }
    }
}

impl Kind for MeanSpace {
    const TAG: u8 = 9;
    const NAME: &'static str = "mean_space";
    const FIELDS: &'static [Field] = &[];
    const OPTIONAL_BIAS: bool = false;
    const OUTPUT: Output = Output::Own;
    const REUSABLE: bool = true;
    const DECAYS: bool = false;
    const ALWAYS: bool = false;
    const BATCH_STATISTICS: bool = false;
    const INIT: Init = Init::FanIn;
    const EXAMPLE: Self = Self;

    fn forward<K: KindSet, const STREAM: bool>(self, mut f: Forward<'_>) -> bool {
        let shape = f.at.input;
        let (input, output) = f.io();
        mean_time::forward(input, shape, output);
        true
    }

    fn backward<K: KindSet, const STREAM: bool>(self, b: Backward<'_>) {
        if let Some(dx) = b.dx {
            mean_time::backward(b.dy, b.at.input, dx);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[allow(clippy::float_cmp)] // means of small integers over four positions
    fn each_channel_becomes_the_mean_of_its_plane() {
        assert_eq!(MeanSpace.output(Shape::Image { channels: 3, height: 2, width: 2 }), Ok(Shape::Flat(3)));
        assert!(MeanSpace.output(Shape::Map { channels: 3, length: 4 }).is_err());
        let input = Shape::Image { channels: 2, height: 2, width: 2 };
        let x = [1.0, 2.0, 3.0, 6.0, -4.0, 0.0, 0.0, 0.0];
        let mut y = [0.0f32; 2];
        mean_time::forward(&x, input, &mut y);
        assert_eq!(y, [3.0, -1.0]);
        let mut dx = [9.0f32; 8];
        mean_time::backward(&[4.0, 8.0], input, &mut dx);
        assert_eq!(dx, [1.0, 1.0, 1.0, 1.0, 2.0, 2.0, 2.0, 2.0]);
    }
}
