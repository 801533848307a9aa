//! The kernels as burn operations: on the bare cube backend, under burn's fusion (as a custom
//! operation in its stream, so pending fused work runs first), and under `Autodiff` (a custom
//! backward that calls the backward kernels instead of differentiating the decomposed form).

use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::Autodiff;
use burn::tensor::backend::Backend;
use burn::tensor::ops::FloatTensor;
use burn_cubecl::{BoolElement, CubeBackend, CubeRuntime, FloatElement, IntElement};

use super::launch;

/// A backend that runs the FlashAttention kernels on its own tensors.
pub trait FlashKernels: Backend {
    /// `(O, lse)`.
    ///
    /// # Shapes
    /// q, k, v `[bh, t, head]` → O `[bh, t, head]`, lse `[bh, t]`.
    fn flash_forward(
        q: FloatTensor<Self>,
        k: FloatTensor<Self>,
        v: FloatTensor<Self>,
        causal: bool,
    ) -> (FloatTensor<Self>, FloatTensor<Self>);

    /// `(dQ, dK, dV)`; delta = rowsum(dO ∘ O).
    ///
    /// # Shapes
    /// q, k, v, d_out `[bh, t, head]`, lse `[bh, t]`, delta `[bh, t, 1]` → three `[bh, t, head]`.
    #[allow(clippy::too_many_arguments)]
    fn flash_backward(
        q: FloatTensor<Self>,
        k: FloatTensor<Self>,
        v: FloatTensor<Self>,
        lse: FloatTensor<Self>,
        d_out: FloatTensor<Self>,
        delta: FloatTensor<Self>,
        causal: bool,
    ) -> (FloatTensor<Self>, FloatTensor<Self>, FloatTensor<Self>);
}

impl<R: CubeRuntime, F: FloatElement, I: IntElement, BT: BoolElement> FlashKernels for CubeBackend<R, F, I, BT> {
    fn flash_forward(
        q: FloatTensor<Self>,
        k: FloatTensor<Self>,
        v: FloatTensor<Self>,
        causal: bool,
    ) -> (FloatTensor<Self>, FloatTensor<Self>) {
        launch::forward(q, k, v, causal)
    }

    fn flash_backward(
        q: FloatTensor<Self>,
        k: FloatTensor<Self>,
        v: FloatTensor<Self>,
        lse: FloatTensor<Self>,
        d_out: FloatTensor<Self>,
        delta: FloatTensor<Self>,
        causal: bool,
    ) -> (FloatTensor<Self>, FloatTensor<Self>, FloatTensor<Self>) {
        launch::backward(q, k, v, lse, d_out, delta, causal)
    }
}

/// Causal (or full) attention as one differentiable operation.
pub trait FusedAttention: Backend {
    /// # Shapes
    /// q, k, v `[bh, t, head]` → `[bh, t, head]`.
    fn fused_attention(
        q: FloatTensor<Self>,
        k: FloatTensor<Self>,
        v: FloatTensor<Self>,
        causal: bool,
    ) -> FloatTensor<Self>;

    /// Bytes the device's memory pools hold: burn frees tensors into pools and returns whole free
    /// pages only on a cleanup, so between a cleanup and the next this is the run's high-water mark.
    fn memory_reserved(device: &Self::Device) -> u64;
}

impl<R: CubeRuntime, F: FloatElement, I: IntElement, BT: BoolElement> FusedAttention for CubeBackend<R, F, I, BT> {
    fn fused_attention(
        q: FloatTensor<Self>,
        k: FloatTensor<Self>,
        v: FloatTensor<Self>,
        causal: bool,
    ) -> FloatTensor<Self> {
        Self::flash_forward(q, k, v, causal).0
    }

    fn memory_reserved(device: &Self::Device) -> u64 {
        R::client(device).memory_usage().map_or(0, |m| m.bytes_reserved)
    }
}

#[cfg(feature = "fusion")]
mod fusion {
    use burn::tensor::{DType, Shape};
    use burn_fusion::stream::{Operation, OperationStreams};
    use burn_fusion::{Fusion, FusionBackend, FusionRuntime};
    use burn_ir::{CustomOpIr, HandleContainer, OperationIr, OperationOutput, TensorIr};

    use super::*;

    /// The forward as a custom operation in fusion's stream.
    #[derive(Clone, Debug)]
    struct ForwardOp<B> {
        desc: CustomOpIr,
        causal: bool,
        _backend: core::marker::PhantomData<B>,
    }

    impl<B: FusionBackend + FlashKernels> Operation<B::FusionRuntime> for ForwardOp<B> {
        fn execute(&self, handles: &mut HandleContainer<<B::FusionRuntime as FusionRuntime>::FusionHandle>) {
            let ([q, k, v], [out, lse]) = self.desc.as_fixed();
            let (o, l) = B::flash_forward(
                handles.get_float_tensor::<B>(q),
                handles.get_float_tensor::<B>(k),
                handles.get_float_tensor::<B>(v),
                self.causal,
            );
            handles.register_float_tensor::<B>(&out.id, o);
            handles.register_float_tensor::<B>(&lse.id, l);
        }
    }

    /// The backward as a custom operation in fusion's stream.
    #[derive(Clone, Debug)]
    struct BackwardOp<B> {
        desc: CustomOpIr,
        causal: bool,
        _backend: core::marker::PhantomData<B>,
    }

    impl<B: FusionBackend + FlashKernels> Operation<B::FusionRuntime> for BackwardOp<B> {
        fn execute(&self, handles: &mut HandleContainer<<B::FusionRuntime as FusionRuntime>::FusionHandle>) {
            let ([q, k, v, lse, d_out, delta], [dq, dk, dv]) = self.desc.as_fixed();
            let (gq, gk, gv) = B::flash_backward(
                handles.get_float_tensor::<B>(q),
                handles.get_float_tensor::<B>(k),
                handles.get_float_tensor::<B>(v),
                handles.get_float_tensor::<B>(lse),
                handles.get_float_tensor::<B>(d_out),
                handles.get_float_tensor::<B>(delta),
                self.causal,
            );
            handles.register_float_tensor::<B>(&dq.id, gq);
            handles.register_float_tensor::<B>(&dk.id, gk);
            handles.register_float_tensor::<B>(&dv.id, gv);
        }
    }

    impl<B: FusionBackend + FlashKernels> FlashKernels for Fusion<B> {
        fn flash_forward(
            q: FloatTensor<Self>,
            k: FloatTensor<Self>,
            v: FloatTensor<Self>,
            causal: bool,
        ) -> (FloatTensor<Self>, FloatTensor<Self>) {
            let client = q.client.clone();
            let [bh, t, head] = q.shape.dims::<3>();
            let streams = OperationStreams::with_inputs([&q, &k, &v]);
            let out = TensorIr::uninit(client.create_empty_handle(), Shape::new([bh, t, head]), DType::F32);
            let lse = TensorIr::uninit(client.create_empty_handle(), Shape::new([bh, t]), DType::F32);
            let desc = CustomOpIr::new("lmlab_flash_forward", &[q.into_ir(), k.into_ir(), v.into_ir()], &[out, lse]);
            let op = ForwardOp::<B> { desc: desc.clone(), causal, _backend: core::marker::PhantomData };
            let [out, lse] = client.register(streams, OperationIr::Custom(desc), op).outputs();
            (out, lse)
        }

        fn flash_backward(
            q: FloatTensor<Self>,
            k: FloatTensor<Self>,
            v: FloatTensor<Self>,
            lse: FloatTensor<Self>,
            d_out: FloatTensor<Self>,
            delta: FloatTensor<Self>,
            causal: bool,
        ) -> (FloatTensor<Self>, FloatTensor<Self>, FloatTensor<Self>) {
            let client = q.client.clone();
            let shape = Shape::new(q.shape.dims::<3>());
            let streams = OperationStreams::with_inputs([&q, &k, &v, &lse, &d_out, &delta]);
            let grad = || TensorIr::uninit(client.create_empty_handle(), shape.clone(), DType::F32);
            let outputs = [grad(), grad(), grad()];
            let inputs = [q.into_ir(), k.into_ir(), v.into_ir(), lse.into_ir(), d_out.into_ir(), delta.into_ir()];
            let desc = CustomOpIr::new("lmlab_flash_backward", &inputs, &outputs);
            let op = BackwardOp::<B> { desc: desc.clone(), causal, _backend: core::marker::PhantomData };
            let [dq, dk, dv] = client.register(streams, OperationIr::Custom(desc), op).outputs();
            (dq, dk, dv)
        }
    }

    impl<B: FusionBackend + FlashKernels + FusedAttention> FusedAttention for Fusion<B> {
        fn fused_attention(
            q: FloatTensor<Self>,
            k: FloatTensor<Self>,
            v: FloatTensor<Self>,
            causal: bool,
        ) -> FloatTensor<Self> {
            Self::flash_forward(q, k, v, causal).0
        }

        fn memory_reserved(device: &Self::Device) -> u64 {
            B::memory_reserved(device)
        }
    }
}

/// The backward step autodiff records for one fused attention.
#[derive(Debug)]
struct FlashBackward {
    causal: bool,
}

impl<B: FlashKernels> Backward<B, 3> for FlashBackward {
    /// q, k, v, O, lse: what the backward kernels recompute the probabilities from.
    type State = (FloatTensor<B>, FloatTensor<B>, FloatTensor<B>, FloatTensor<B>, FloatTensor<B>);

    fn backward(self, ops: Ops<Self::State, 3>, grads: &mut Gradients, _checkpointer: &mut Checkpointer) {
        let [node_q, node_k, node_v] = ops.parents;
        let d_out = grads.consume::<B>(&ops.node);
        let (q, k, v, out, lse) = ops.state;
        let delta = B::float_sum_dim(B::float_mul(d_out.clone(), out), 2); // [bh, t, 1]
        let (dq, dk, dv) = B::flash_backward(q, k, v, lse, d_out, delta, self.causal);
        if let Some(node) = node_q {
            grads.register::<B>(node.id, dq);
        }
        if let Some(node) = node_k {
            grads.register::<B>(node.id, dk);
        }
        if let Some(node) = node_v {
            grads.register::<B>(node.id, dv);
        }
    }
}

impl<B: FlashKernels + FusedAttention, C: CheckpointStrategy> FusedAttention for Autodiff<B, C> {
    fn memory_reserved(device: &Self::Device) -> u64 {
        B::memory_reserved(device)
    }

    fn fused_attention(
        q: FloatTensor<Self>,
        k: FloatTensor<Self>,
        v: FloatTensor<Self>,
        causal: bool,
    ) -> FloatTensor<Self> {
        let nodes = [q.node.clone(), k.node.clone(), v.node.clone()];
        let prepared = FlashBackward { causal }.prepare::<C>(nodes).compute_bound().stateful();
        match prepared {
            OpsKind::Tracked(prep) => {
                let (out, lse) =
                    B::flash_forward(q.primitive.clone(), k.primitive.clone(), v.primitive.clone(), causal);
                let state = (q.primitive, k.primitive, v.primitive, out.clone(), lse);
                prep.finish(state, out)
            }
            OpsKind::UnTracked(prep) => prep.finish(B::flash_forward(q.primitive, k.primitive, v.primitive, causal).0),
        }
    }
}
