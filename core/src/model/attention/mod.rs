//! # FlashAttention (CS336 assignment 2 §1; Dao 2023, FlashAttention-2)
//!
//! The decomposed attention in [`super::ops::causal_attention`] writes the `[batch, heads, t, t]`
//! scores, then the probabilities, to memory and keeps the probabilities for the backward: memory
//! grows as t², and each of those tensors is read and written several times — at real context
//! lengths attention is bound by memory traffic, not by arithmetic. The fused kernels compute the
//! same function tile by tile in on-chip memory with the online softmax: the forward writes only
//! O and one log-sum-exp per row; the backward recomputes the probabilities from Q, K and that
//! log-sum-exp (FlashAttention-2's algorithm 2, with delta = rowsum(dO ∘ O)).
//!
//! The kernels ([`kernels`]) are written once in CubeCL and compile to CUDA and to WGSL, so the
//! same code trains natively (CUDA, Vulkan/Metal through wgpu) and in the browser (WebGPU).
//! [`backend`] makes them burn operations with their own backward.
//!
//! ## Why a run-time type check
//! The model is generic over burn's `Backend` so one definition serves every backend. Rust has no
//! specialization, and burn's way to add an operation (an extension trait, as its
//! `custom-cubecl-kernel` example does) would put a new bound on every generic signature of the
//! model, the training loop, sampling and both front ends. Instead [`causal`] checks at run time
//! whether `B` is one of the cube backends the kernels are compiled for (by `TypeId`) and hands the
//! tensors to the kernel's concrete type; any other backend (the CPU's flex) gets the reference.
//! The list of backends is in [`dispatch`]; a backend missing from it is correct, only slower.

use burn::tensor::backend::Backend;
use burn::tensor::{DType, Tensor};

use super::ops::{causal_attention, causal_bias};
use super::plan::{AttentionKernel, Precision};

pub mod bench;

#[cfg(feature = "fused-attention")]
pub mod backend;
#[cfg(feature = "fused-attention")]
pub mod kernels;
#[cfg(feature = "fused-attention")]
pub mod launch;

/// The largest head size the kernels take: a unit keeps four rows of this many f32 in registers.
pub const MAX_HEAD: usize = super::plan::MAX_FUSED_HEAD;

/// Causal self-attention with `kernel`: the fused kernels where this backend has them and the
/// head size fits, else the reference.
///
/// # Shapes
/// q, k, v `[batch, heads, t, head]` → `[batch, heads, t, head]`.
pub fn causal<B: Backend>(
    q: Tensor<B, 4>,
    k: Tensor<B, 4>,
    v: Tensor<B, 4>,
    kernel: AttentionKernel,
    precision: Precision,
) -> Tensor<B, 4> {
    if kernel == AttentionKernel::Fused {
        let round = |x: Tensor<B, 4>| match precision {
            Precision::Fp32 => x,
            // The decomposed form rounds its matmul inputs to bf16; the kernels compute in f32
            // from the same rounded Q, K, V (their probabilities stay f32: a little more exact).
            Precision::Bf16 => x.cast(DType::BF16).cast(DType::F32),
        };
        if let Ok(out) = fused(round(q.clone()), round(k.clone()), round(v.clone()), true) {
            return out;
        }
    }
    let t = q.dims()[2];
    let bias = causal_bias::<B>(t, 0, &q.device());
    causal_attention(q, k, v, bias, precision)
}

/// The fused kernels, when `B` has them: `Err` gives the inputs back otherwise (the CPU backend,
/// a head size above [`MAX_HEAD`], a dtype other than f32).
///
/// # Shapes
/// q, k, v `[batch, heads, t, head]` → `[batch, heads, t, head]`.
#[allow(clippy::result_large_err)]
pub fn fused<B: Backend>(
    q: Tensor<B, 4>,
    k: Tensor<B, 4>,
    v: Tensor<B, 4>,
    causal: bool,
) -> Result<Tensor<B, 4>, [Tensor<B, 4>; 3]> {
    let [b, h, t, d] = q.dims();
    if !available::<B>() || d == 0 || d > MAX_HEAD || q.dtype() != DType::F32 {
        return Err([q, k, v]);
    }
    let flat = |x: Tensor<B, 4>| x.reshape([b * h, t, d]);
    #[cfg(feature = "fused-attention")]
    {
        if let Some(out) = dispatch::run::<B>(flat(q.clone()), flat(k.clone()), flat(v.clone()), causal) {
            return Ok(out.reshape([b, h, t, d]));
        }
    }
    let _ = (flat, causal);
    Err([q, k, v])
}

/// Whether the fused kernels run on backend `B` (natively: CUDA and wgpu, with or without fusion
/// and autodiff; in the browser: WebGPU).
pub fn available<B: Backend>() -> bool {
    #[cfg(feature = "fused-attention")]
    {
        dispatch::supports::<B>()
    }
    #[cfg(not(feature = "fused-attention"))]
    {
        false
    }
}

/// Bytes held by the memory pools of `device` (see [`backend::FusedAttention::memory_reserved`]),
/// on the backends the kernels run on; `None` elsewhere (the CPU backend keeps no pools).
pub fn memory_reserved<B: Backend>(device: &B::Device) -> Option<u64> {
    #[cfg(feature = "fused-attention")]
    {
        dispatch::memory_reserved::<B>(device)
    }
    #[cfg(not(feature = "fused-attention"))]
    {
        let _ = device;
        None
    }
}

/// The kernel a run on backend `B` actually uses when it asks for `kernel`.
pub fn effective<B: Backend>(kernel: AttentionKernel) -> AttentionKernel {
    match kernel {
        AttentionKernel::Fused if available::<B>() => AttentionKernel::Fused,
        _ => AttentionKernel::Reference,
    }
}

#[cfg(feature = "fused-attention")]
mod dispatch {
    //! The backends the kernels are compiled for, matched by type at run time (see the module
    //! docs for why).

    use core::any::{Any, TypeId};

    use burn::tensor::backend::Backend;
    use burn::tensor::{Tensor, TensorPrimitive};

    use super::backend::FusedAttention;

    /// Moves a value to the type it is known (by `TypeId`) to be.
    fn same<A: 'static, Z: 'static>(a: A) -> Z {
        *(Box::new(a) as Box<dyn Any>).downcast::<Z>().expect("the TypeId check matched")
    }

    /// Runs the fused attention on `Z`, which is `B`.
    fn on<B: Backend, Z: FusedAttention>(
        q: Tensor<B, 3>,
        k: Tensor<B, 3>,
        v: Tensor<B, 3>,
        causal: bool,
    ) -> Tensor<B, 3> {
        let prim = |x: Tensor<B, 3>| same::<Tensor<B, 3>, Tensor<Z, 3>>(x).into_primitive().tensor();
        let out = Z::fused_attention(prim(q), prim(k), prim(v), causal);
        same::<Tensor<Z, 3>, Tensor<B, 3>>(Tensor::from_primitive(TensorPrimitive::Float(out)))
    }

    /// Calls `$f::<B, T>` for the first compiled-in backend type `T` that is `B`.
    macro_rules! each_backend {
        ($b:ty, $f:ident ( $($arg:expr),* )) => {{
            #[allow(unused_mut)]
            let mut found = None;
            #[cfg(any(feature = "gpu-wgpu", feature = "webgpu"))]
            {
                type W = burn_cubecl::CubeBackend<cubecl::wgpu::WgpuRuntime, f32, i32, u32>;
                found = found.or_else(|| each_backend!(@try $b, W, $f($($arg),*)));
                found = found.or_else(|| each_backend!(@try $b, burn::backend::Autodiff<W>, $f($($arg),*)));
                #[cfg(feature = "fusion")]
                {
                    found = found.or_else(|| each_backend!(@try $b, burn_fusion::Fusion<W>, $f($($arg),*)));
                    found = found.or_else(|| each_backend!(@try $b, burn::backend::Autodiff<burn_fusion::Fusion<W>>, $f($($arg),*)));
                }
            }
            #[cfg(feature = "gpu-cuda")]
            {
                type C = burn_cubecl::CubeBackend<cubecl::cuda::CudaRuntime, f32, i32, u8>;
                found = found.or_else(|| each_backend!(@try $b, C, $f($($arg),*)));
                found = found.or_else(|| each_backend!(@try $b, burn::backend::Autodiff<C>, $f($($arg),*)));
                #[cfg(feature = "fusion")]
                {
                    found = found.or_else(|| each_backend!(@try $b, burn_fusion::Fusion<C>, $f($($arg),*)));
                    found = found.or_else(|| each_backend!(@try $b, burn::backend::Autodiff<burn_fusion::Fusion<C>>, $f($($arg),*)));
                }
            }
            found
        }};
        (@try $b:ty, $t:ty, $f:ident ( $($arg:expr),* )) => {
            if TypeId::of::<$b>() == TypeId::of::<$t>() { Some($f::<$b, $t>($($arg),*)) } else { None }
        };
    }

    fn yes<B: Backend, Z: FusedAttention>() -> bool {
        true
    }

    pub fn supports<B: Backend>() -> bool {
        each_backend!(B, yes()).unwrap_or(false)
    }

    fn reserved_on<B: Backend, Z: FusedAttention>(device: &B::Device) -> u64 {
        Z::memory_reserved(&same::<B::Device, Z::Device>(device.clone()))
    }

    pub fn memory_reserved<B: Backend>(device: &B::Device) -> Option<u64> {
        each_backend!(B, reserved_on(device))
    }

    /// # Shapes
    /// q, k, v `[bh, t, head]` → `[bh, t, head]`.
    pub fn run<B: Backend>(q: Tensor<B, 3>, k: Tensor<B, 3>, v: Tensor<B, 3>, causal: bool) -> Option<Tensor<B, 3>> {
        // Each arm moves the tensors; only the matching one runs, so hand them over through a cell.
        let mut args = Some((q, k, v));
        let mut go = |z: fn(Tensor<B, 3>, Tensor<B, 3>, Tensor<B, 3>, bool) -> Tensor<B, 3>| {
            let (q, k, v) = args.take().expect("one backend matches");
            z(q, k, v, causal)
        };
        each_backend!(B, pick(&mut go))
    }

    fn pick<B: Backend, Z: FusedAttention>(
        go: &mut impl FnMut(fn(Tensor<B, 3>, Tensor<B, 3>, Tensor<B, 3>, bool) -> Tensor<B, 3>) -> Tensor<B, 3>,
    ) -> Tensor<B, 3> {
        go(on::<B, Z>)
    }
}
