//! Launching the kernels on burn's cube tensors (CUDA, wgpu natively, WebGPU in the browser):
//! tile sizes, grids and output buffers.

use burn::tensor::{DType, Shape, TensorMetadata};
use burn_cubecl::kernel::into_contiguous;
use burn_cubecl::tensor::CubeTensor;
use burn_cubecl::CubeRuntime;
use cubecl::prelude::*;

use super::kernels::{flash_backward_dkdv_kernel, flash_backward_dq_kernel, flash_forward_kernel};
use super::MAX_HEAD;

/// Units per cube: the rows one cube owns (queries in the forward and dQ, keys in dK/dV).
const ROWS_PER_CUBE: usize = 64;

pub use crate::hardware::attention::tile_rows;

/// Shapes of Q, K, V as the kernels take them.
fn dims(q: &CubeTensor<impl CubeRuntime>) -> [usize; 3] {
    q.shape().dims::<3>()
}

/// A new contiguous f32 tensor of `shape` on `like`'s device.
fn empty_like<R: CubeRuntime>(like: &CubeTensor<R>, shape: Shape) -> CubeTensor<R> {
    let bytes = shape.num_elements() * like.dtype.size();
    let handle = like.client.empty(bytes);
    CubeTensor::new_contiguous(like.client.clone(), like.device.clone(), shape, handle, like.dtype)
}

/// The grid: one cube per [`ROWS_PER_CUBE`] rows of each (batch, head) pair.
fn grid(t: usize, bh: usize) -> (CubeCount, CubeDim) {
    assert!(bh <= u16::MAX as usize, "batch × heads = {bh} exceeds the grid's 65,535 cubes in y");
    (CubeCount::Static(t.div_ceil(ROWS_PER_CUBE) as u32, bh as u32, 1), CubeDim::new_1d(ROWS_PER_CUBE as u32))
}

fn check(q: &CubeTensor<impl CubeRuntime>) {
    let [_, _, head] = dims(q);
    assert!(head >= 1 && head <= MAX_HEAD, "fused attention takes head sizes 1 … {MAX_HEAD}, not {head}");
    assert_eq!(q.dtype, DType::F32, "fused attention computes in f32");
}

/// Forward: `(O, lse)`.
///
/// # Shapes
/// q, k, v `[bh, t, head]` → O `[bh, t, head]`, lse `[bh, t]`.
pub fn forward<R: CubeRuntime>(
    q: CubeTensor<R>,
    k: CubeTensor<R>,
    v: CubeTensor<R>,
    causal: bool,
) -> (CubeTensor<R>, CubeTensor<R>) {
    let [bh, t, head] = dims(&q);
    let out = empty_like(&q, Shape::new([bh, t, head]));
    let lse = empty_like(&q, Shape::new([bh, t]));
    forward_into(q, k, v, &out, &lse, causal);
    (out, lse)
}

/// [`forward`] into given contiguous outputs (the tests place them inside larger buffers to see
/// that nothing past them is written).
///
/// # Shapes
/// q, k, v `[bh, t, head]`, out `[bh, t, head]`, lse `[bh, t]`.
pub fn forward_into<R: CubeRuntime>(
    q: CubeTensor<R>,
    k: CubeTensor<R>,
    v: CubeTensor<R>,
    out: &CubeTensor<R>,
    lse: &CubeTensor<R>,
    causal: bool,
) {
    check(&q);
    let (q, k, v) = (into_contiguous(q), into_contiguous(k), into_contiguous(v));
    let [bh, t, head] = dims(&q);
    let (count, dim) = grid(t, bh);
    let dtype = q.dtype;
    flash_forward_kernel::launch::<R>(
        &q.client.clone(),
        count,
        dim,
        q.into_tensor_arg(),
        k.into_tensor_arg(),
        v.into_tensor_arg(),
        out.clone().into_tensor_arg(),
        lse.clone().into_tensor_arg(),
        t as u32,
        head,
        tile_rows(head),
        causal,
        dtype.into(),
    );
}

/// Backward: `(dQ, dK, dV)` from the forward's inputs, its lse, dO and delta = rowsum(dO ∘ O).
///
/// # Shapes
/// q, k, v, d_out `[bh, t, head]`, lse `[bh, t]`, delta `[bh, t]` (or `[bh, t, 1]`) → three `[bh, t, head]`.
pub fn backward<R: CubeRuntime>(
    q: CubeTensor<R>,
    k: CubeTensor<R>,
    v: CubeTensor<R>,
    lse: CubeTensor<R>,
    d_out: CubeTensor<R>,
    delta: CubeTensor<R>,
    causal: bool,
) -> (CubeTensor<R>, CubeTensor<R>, CubeTensor<R>) {
    let shape = Shape::new(dims(&q));
    let grads = [empty_like(&q, shape.clone()), empty_like(&q, shape.clone()), empty_like(&q, shape)];
    backward_into(q, k, v, lse, d_out, delta, &grads, causal);
    let [dq, dk, dv] = grads;
    (dq, dk, dv)
}

/// [`backward`] into given contiguous `[dQ, dK, dV]`.
///
/// # Shapes
/// As [`backward`]; each of `grads` `[bh, t, head]`.
#[allow(clippy::too_many_arguments)]
pub fn backward_into<R: CubeRuntime>(
    q: CubeTensor<R>,
    k: CubeTensor<R>,
    v: CubeTensor<R>,
    lse: CubeTensor<R>,
    d_out: CubeTensor<R>,
    delta: CubeTensor<R>,
    grads: &[CubeTensor<R>; 3],
    causal: bool,
) {
    check(&q);
    let (q, k, v) = (into_contiguous(q), into_contiguous(k), into_contiguous(v));
    let (lse, d_out, delta) = (into_contiguous(lse), into_contiguous(d_out), into_contiguous(delta));
    let [bh, t, head] = dims(&q);
    let (count, dim) = grid(t, bh);
    let dtype = q.dtype;
    let client = q.client.clone();
    let tile = tile_rows(head);
    let [dq, dk, dv] = grads;
    flash_backward_dq_kernel::launch::<R>(
        &client,
        count.clone(),
        dim,
        q.clone().into_tensor_arg(),
        k.clone().into_tensor_arg(),
        v.clone().into_tensor_arg(),
        d_out.clone().into_tensor_arg(),
        lse.clone().into_tensor_arg(),
        delta.clone().into_tensor_arg(),
        dq.clone().into_tensor_arg(),
        t as u32,
        head,
        tile,
        causal,
        dtype.into(),
    );
    flash_backward_dkdv_kernel::launch::<R>(
        &client,
        count,
        dim,
        q.into_tensor_arg(),
        k.into_tensor_arg(),
        v.into_tensor_arg(),
        d_out.into_tensor_arg(),
        lse.into_tensor_arg(),
        delta.into_tensor_arg(),
        dk.clone().into_tensor_arg(),
        dv.clone().into_tensor_arg(),
        t as u32,
        head,
        tile,
        causal,
        dtype.into(),
    );
}
