//! A network's parameter tensors as PyTorch names and shapes them: which
//! layer, weight or bias, where in the parameter vector, which dimensions,
//! whether weight decay applies ([`Tensor`]), in storage order ([`Tensors`]).

use super::kind::Dims;
use super::kinds::Layer;
use super::net::{Net, Place, Walk};

/// What a parameter tensor is to its layer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Role {
    /// A Linear or Conv1d weight, or BatchNorm's γ (`weight` in PyTorch).
    Weight,
    /// A bias, or BatchNorm's β (`bias` in PyTorch).
    Bias,
}

/// One parameter tensor of a network.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Tensor {
    /// Index of its layer in the whole list.
    pub layer: usize,
    /// Its layer's kind.
    pub kind: Layer,
    /// Weight or bias.
    pub role: Role,
    /// Offset in the parameter vector.
    pub offset: usize,
    /// Its shape in PyTorch's layout; `rank` entries are used.
    pub dims: [usize; 4],
    /// Entries of `dims` in use.
    pub rank: usize,
    /// Whether weight decay and LARS's trust ratio apply (Linear and Conv1d
    /// weights only, as in the official recipe).
    pub decays: bool,
}

impl Tensor {
    /// Elements.
    #[must_use]
    pub fn len(&self) -> usize {
        self.dims[..self.rank].iter().product()
    }

    /// Whether the tensor holds no element.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Its range in the parameter vector.
    #[must_use]
    pub fn range(&self) -> core::ops::Range<usize> {
        self.offset..self.offset + self.len()
    }

    /// PyTorch's name for it within a `Sequential`: `weight` or `bias`.
    #[must_use]
    pub fn name(&self) -> &'static str {
        match self.role {
            Role::Weight => "weight",
            Role::Bias => "bias",
        }
    }
}

/// The parameter tensors of precomputed places, in storage order (what an
/// [`Optimizer`](crate::train::Optimizer) walks).
#[derive(Clone, Debug)]
pub struct Tensors<'n> {
    places: &'n [Place],
    pending: Option<Tensor>,
}

impl<'n> Tensors<'n> {
    /// The tensors of `places` (from [`Net::places`], or a
    /// [`Siamese`](super::Siamese)'s).
    #[must_use]
    pub fn of(places: &'n [Place]) -> Self {
        Self { places, pending: None }
    }
}

impl Iterator for Tensors<'_> {
    type Item = Tensor;

    fn next(&mut self) -> Option<Tensor> {
        if let Some(t) = self.pending.take() {
            return Some(t);
        }
        loop {
            let (first, rest) = self.places.split_first()?;
            self.places = rest;
            match first.tensors() {
                [Some(w), bias] => {
                    self.pending = bias;
                    return Some(w);
                }
                [None, Some(b)] => return Some(b),
                [None, None] => {}
            }
        }
    }
}

impl Place {
    /// The layer's weight and bias tensors, where it has them.
    fn tensors(&self) -> [Option<Tensor>; 2] {
        let (weights, biases) = (self.weights(), self.biases());
        let weight_dims = self.layer.weight_dims(self.at.input);
        let tensor = |role, offset, Dims { dims, rank }| Tensor {
            layer: self.index,
            kind: self.layer,
            role,
            offset,
            dims,
            rank,
            decays: role == Role::Weight && self.layer.decays_weights(),
        };
        [
            (weights > 0).then(|| tensor(Role::Weight, self.params, weight_dims)),
            (biases > 0).then(|| tensor(Role::Bias, self.params + weights, Dims { dims: [biases, 0, 0, 0], rank: 1 })),
        ]
    }
}

impl Net<'_> {
    /// The parameter tensors in storage order, with their names and shapes.
    pub fn tensors(&self) -> impl Iterator<Item = Tensor> + Clone + '_ {
        let mut walk = Walk::new(self, 1);
        core::iter::from_fn(move || walk.next()).flat_map(|p| p.tensors().into_iter().flatten())
    }
}
