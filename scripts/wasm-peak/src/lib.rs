//! One WebAssembly thread's f32 ceiling with `simd128`: twelve independent
//! chains of four-lane multiply-then-add (the instruction set has no fused
//! multiply-add without relaxed SIMD), the counterpart of the FMA peak that
//! `speed` measures natively. Run by `run.mjs`.
#![no_std]

use core::arch::wasm32::{f32x4_add, f32x4_extract_lane, f32x4_mul, f32x4_splat};

#[panic_handler]
fn halt(_: &core::panic::PanicInfo) -> ! {
    loop {}
}

/// `iterations` steps of every chain: 12 × 4 lanes × 2 flops each.
#[unsafe(no_mangle)]
pub extern "C" fn chains(iterations: u32) -> f32 {
    let (a, b) = (f32x4_splat(0.999_999), f32x4_splat(1e-7));
    let mut acc = [f32x4_splat(1.0); 12];
    for _ in 0..iterations {
        for x in &mut acc {
            *x = f32x4_add(f32x4_mul(*x, a), b);
        }
    }
    acc.iter().map(|&x| f32x4_extract_lane::<0>(x) + f32x4_extract_lane::<3>(x)).sum()
}
