//! # Data parallelism: one model trained by several ranks at once
//!
//! Each rank (one process per device, started by `mpirun -n N lmlab train`) holds the whole model
//! and optimizer, trains on its own slice of every batch, and the ranks average their gradients
//! before anything else reads them. That is PyTorch's DDP, and CS336 assignment 2's first half:
//!
//! * **The batch.** One stream (the run's seed, advanced step by step) draws the *global* batch of
//!   `ranks × batch` windows; rank r trains on windows `[r·b, (r+1)·b)` ([`Shard::slice`]). The
//!   slices are disjoint and the global batch does not depend on how many ranks share it, so
//!   2 ranks × b train the very model 1 rank × 2b trains, and a checkpoint (which keeps the global
//!   batch and the stream's position) resumes on any rank count that divides its global batch.
//!   Seeding each rank's own stream with its rank would tie the data to the rank count and break
//!   both. Validation is sharded the same way and its losses averaged.
//! * **The gradients.** Summed across ranks by the [`Collective`] and divided by the rank count,
//!   so every rank holds the gradient of the global batch's mean loss; the global norm, clipping
//!   and AdamW then read that averaged gradient (`optimizer::AdamW::step`), and every rank makes
//!   the same update.
//! * **Overlap.** Gradients travel in buckets ([`DEFAULT_BUCKET_BYTES`], PyTorch DDP's 25 MiB), in
//!   the order the backward produces them (last layer first); bucket k is on the wire while
//!   bucket k+1 is read off the device and packed. [`CommTiming`] reports how much communication
//!   hid behind that work and how long the step waited for it. burn's backward is one call that
//!   returns every gradient at once, so the window for overlap here is the read-back, not the
//!   backward itself: on a GPU the reduction of the last layers cannot start while the first
//!   layers' gradients are still being computed, as it can with hooks in PyTorch.
//! * **Drift.** Every [`CHECK_EVERY`] steps (and at the end) each rank hashes its weights' bits and
//!   the hashes are compared; any difference stops the run naming the ranks and the step. Ranks
//!   that drift apart silently would each go on training a different model.
//!
//! Core knows only the [`Collective`] trait (compiled everywhere, used natively): the CLI
//! implements it over MPI. Why MPI and not burn 0.21's `distributed` feature: that feature is one
//! process driving several CUDA devices (NCCL inside burn's autodiff), while `mpirun` starts one
//! process per device on one machine or many, on every backend, and is what the field's launchers
//! (Slurm, `torchrun`'s peers) speak. Host tensors (the CPU backend, and GPU gradients staged
//! through host memory) are reduced by MPI.

use std::collections::HashMap;

use burn::module::{AutodiffModule, ModuleVisitor, Param, ParamId};
use burn::optim::GradientsParams;
use burn::tensor::backend::{AutodiffBackend, Backend};
use burn::tensor::{Tensor, TensorData};

use super::TrainError;
pub use crate::telemetry::CommTiming;

/// PyTorch DDP's default bucket (`bucket_cap_mb=25`, 25 MiB): large enough that each message is
/// bandwidth-bound, small enough that the first is sent early.
pub const DEFAULT_BUCKET_BYTES: usize = 25 << 20;

/// Steps between checks that every rank holds the same weights (and always at the end): one
/// read of the weights per 100 steps costs well under 1% of a run.
pub const CHECK_EVERY: usize = 100;

/// How a group of ranks talks: sums across ranks, and every rank's value. Every rank must make the
/// same calls in the same order (as MPI requires); a call blocks until all ranks have made it.
pub trait Collective {
    /// This process's rank, 0-based; rank 0 logs and writes checkpoints.
    fn rank(&self) -> usize;
    /// How many ranks train the model.
    fn ranks(&self) -> usize;
    /// Sums buckets of `sizes` floats across ranks. `fill(k, buffer)` writes this rank's bucket k;
    /// the reduction of bucket k may start as soon as it is filled, while later ones are filled.
    /// Returns every bucket's sum, in order, and the time the communication took.
    fn all_reduce_buckets(
        &mut self,
        sizes: &[usize],
        fill: &mut dyn FnMut(usize, &mut [f32]),
    ) -> (Vec<Vec<f32>>, CommTiming);
    /// Whether this collective sums tensors like `example` (a backend's float tensor primitive)
    /// on the device itself — NCCL on CUDA: the gradients then never leave the GPUs — rather than
    /// through host memory ([`Collective::all_reduce_buckets`]). Every rank answers alike (they
    /// run the same backend); asked once per step, it must not communicate.
    fn reduces_on_device(&self, example: &dyn std::any::Any) -> bool {
        let _ = example;
        false
    }
    /// Sums a flat f32 bucket on the device, in place (`bucket` is the backend's float tensor
    /// primitive); only called when [`Collective::reduces_on_device`] said so.
    fn all_reduce_device(&mut self, bucket: &mut dyn std::any::Any) {
        let _ = bucket;
        unreachable!("all_reduce_device without reduces_on_device")
    }
    /// Sums a few numbers across ranks, in place.
    fn all_reduce_f64(&mut self, values: &mut [f64]);
    /// Every rank's `value`, indexed by rank.
    fn all_gather_u64(&mut self, value: u64) -> Vec<u64>;
}

/// Which slice of every global batch a rank trains on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    pub rank: usize,
    pub ranks: usize,
}

impl Shard {
    /// One process training alone.
    pub const ALONE: Shard = Shard { rank: 0, ranks: 1 };

    /// This rank's windows of a global batch: the r-th of `ranks` equal, contiguous slices.
    pub fn slice<'a, T>(&self, global: &'a [T]) -> &'a [T] {
        let per = global.len() / self.ranks;
        &global[self.rank * per..(self.rank + 1) * per]
    }

    /// Each rank's batch of a global one, refusing a global batch the ranks cannot share equally.
    pub fn per_rank(&self, global_batch: usize) -> Result<usize, TrainError> {
        if global_batch % self.ranks != 0 || global_batch < self.ranks {
            return Err(TrainError::Config(format!(
                "the run's global batch of {global_batch} windows cannot be split equally across {} ranks: use a \
                 rank count that divides it",
                self.ranks
            )));
        }
        Ok(global_batch / self.ranks)
    }
}

/// Averages `grads` across the ranks of `collective`, in place: afterwards every rank holds the
/// mean of all ranks' gradients for every float parameter of `module` (a parameter a rank has no
/// gradient for counts as zeros there, so every rank sends the same layout).
///
/// Parameters go in reverse visiting order (the backward produces the last layers' gradients
/// first), packed into buckets of about `bucket_bytes`; each bucket is concatenated on the device
/// and either summed there (NCCL: [`Collective::all_reduce_device`]) or read back in one transfer
/// and summed by the host collective.
pub fn reduce_gradients<B: AutodiffBackend, M: AutodiffModule<B>>(
    module: &M,
    grads: &mut GradientsParams,
    collective: &mut dyn Collective,
    bucket_bytes: usize,
) -> CommTiming {
    let mut taken = TakeGrads::<B> { grads, taken: Vec::new() };
    module.visit(&mut taken);
    let mut params = taken.taken;
    params.reverse();
    let buckets = buckets(&params.iter().map(|p| p.numel).collect::<Vec<_>>(), bucket_bytes / 4);
    let sizes: Vec<usize> = buckets.iter().map(|r| params[r.clone()].iter().map(|p| p.numel).sum()).collect();
    let on_device = params.first().and_then(|p| p.grad.clone()).is_some_and(|g| {
        let example = g.into_primitive().tensor();
        collective.reduces_on_device(&example)
    });
    if on_device {
        return reduce_on_device::<B>(&mut params, &buckets, &sizes, collective, grads, module);
    }
    let scale = 1.0 / collective.ranks() as f32;
    let (sums, timing) = collective.all_reduce_buckets(&sizes, &mut |k, buffer| {
        let parts: Vec<Tensor<B::InnerBackend, 1>> =
            params[buckets[k].clone()].iter_mut().map(|p| p.grad.take().expect("each bucket is filled once")).collect();
        let data = Tensor::cat(parts, 0).into_data().convert::<f32>();
        buffer.copy_from_slice(data.as_slice::<f32>().expect("converted to f32"));
    });
    let mut averaged = HashMap::with_capacity(params.len());
    for (range, sum) in buckets.iter().zip(sums) {
        let mut at = 0;
        for p in &params[range.clone()] {
            let mean: Vec<f32> = sum[at..at + p.numel].iter().map(|v| v * scale).collect();
            at += p.numel;
            averaged.insert(p.id, Tensor::<B::InnerBackend, 1>::from_data(TensorData::new(mean, [p.numel]), &p.device));
        }
    }
    module.visit(&mut PutGrads::<B> { grads, averaged });
    timing
}

/// The buckets summed on the device ([`Collective::all_reduce_device`]): each is concatenated,
/// reduced in place, scaled by 1/ranks and cut back into its parameters.
fn reduce_on_device<B: AutodiffBackend>(
    params: &mut [Flat<B::InnerBackend>],
    buckets: &[std::ops::Range<usize>],
    sizes: &[usize],
    collective: &mut dyn Collective,
    grads: &mut GradientsParams,
    module: &impl AutodiffModule<B>,
) -> CommTiming {
    use burn::tensor::TensorPrimitive;
    let started = web_time::Instant::now();
    let scale = 1.0 / collective.ranks() as f64;
    let mut averaged = HashMap::with_capacity(params.len());
    for range in buckets {
        let parts: Vec<Tensor<B::InnerBackend, 1>> =
            params[range.clone()].iter_mut().map(|p| p.grad.take().expect("each bucket is reduced once")).collect();
        let mut flat = Tensor::cat(parts, 0).into_primitive().tensor();
        collective.all_reduce_device(&mut flat);
        let sum = Tensor::<B::InnerBackend, 1>::from_primitive(TensorPrimitive::Float(flat)).mul_scalar(scale);
        let mut at = 0;
        for p in &params[range.clone()] {
            averaged.insert(p.id, sum.clone().narrow(0, at, p.numel));
            at += p.numel;
        }
    }
    module.visit(&mut PutGrads::<B> { grads, averaged });
    let bytes = 4 * sizes.iter().sum::<usize>() as u64;
    CommTiming { hidden_s: 0.0, exposed_s: started.elapsed().as_secs_f64(), bytes, buckets: sizes.len() }
}

/// Contiguous groups of `sizes` of about `bucket_elems` each (a larger item is a bucket alone).
fn buckets(sizes: &[usize], bucket_elems: usize) -> Vec<std::ops::Range<usize>> {
    let mut out = Vec::new();
    let (mut start, mut filled) = (0, 0);
    for (i, &n) in sizes.iter().enumerate() {
        filled += n;
        if filled >= bucket_elems.max(1) {
            out.push(start..i + 1);
            (start, filled) = (i + 1, 0);
        }
    }
    if start < sizes.len() {
        out.push(start..sizes.len());
    }
    out
}

/// A parameter's gradient, flattened, on its way to the reduction.
struct Flat<B: Backend> {
    id: ParamId,
    numel: usize,
    device: B::Device,
    grad: Option<Tensor<B, 1>>,
}

struct TakeGrads<'a, B: AutodiffBackend> {
    grads: &'a mut GradientsParams,
    taken: Vec<Flat<B::InnerBackend>>,
}

impl<B: AutodiffBackend> ModuleVisitor<B> for TakeGrads<'_, B> {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<B, D>>) {
        let value = param.val();
        let numel = value.shape().num_elements();
        let device = value.device();
        let grad = match self.grads.remove::<B::InnerBackend, D>(param.id) {
            Some(g) => g.reshape([numel]),
            None => Tensor::zeros([numel], &device),
        };
        self.taken.push(Flat { id: param.id, numel, device, grad: Some(grad) });
    }
}

struct PutGrads<'a, B: AutodiffBackend> {
    grads: &'a mut GradientsParams,
    averaged: HashMap<ParamId, Tensor<B::InnerBackend, 1>>,
}

impl<B: AutodiffBackend> ModuleVisitor<B> for PutGrads<'_, B> {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<B, D>>) {
        if let Some(g) = self.averaged.remove(&param.id) {
            self.grads.register::<B::InnerBackend, D>(param.id, g.reshape(param.val().shape()));
        }
    }
}

/// A hash of every float parameter's bits (FNV-1a over the f32 values in visiting order): equal on
/// two ranks exactly when their weights are bit-identical.
pub fn weights_checksum<B: Backend, M: burn::module::Module<B>>(module: &M) -> u64 {
    struct Hash(u64);
    impl<B: Backend> ModuleVisitor<B> for Hash {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<B, D>>) {
            let data = param.val().into_data().convert::<f32>();
            for v in data.as_slice::<f32>().expect("converted to f32") {
                for byte in v.to_bits().to_le_bytes() {
                    self.0 = (self.0 ^ u64::from(byte)).wrapping_mul(0x0000_0100_0000_01b3);
                }
            }
        }
    }
    let mut hash = Hash(0xcbf2_9ce4_8422_2325);
    module.visit(&mut hash);
    hash.0
}

/// Fails when the ranks' weight hashes differ, naming the first rank that disagrees with rank 0.
pub fn check_replicas(collective: &mut dyn Collective, checksum: u64, step: usize) -> Result<(), TrainError> {
    let all = collective.all_gather_u64(checksum);
    if let Some((rank, other)) = all.iter().enumerate().find(|(_, &h)| h != all[0]) {
        return Err(TrainError::Device(format!(
            "the ranks' weights drifted apart by step {step}: rank {rank}'s hash {other:016x} differs from rank 0's \
             {:016x} (every rank must make the same update; a rank with different code, data or hardware numerics?). \
             Stopped without saving; the last checkpoint is intact",
            all[0]
        )));
    }
    Ok(())
}

/// One process, for tests: every sum is the value itself, and nothing waits.
#[derive(Debug, Default)]
pub struct Alone;

impl Collective for Alone {
    fn rank(&self) -> usize {
        0
    }
    fn ranks(&self) -> usize {
        1
    }
    fn all_reduce_buckets(
        &mut self,
        sizes: &[usize],
        fill: &mut dyn FnMut(usize, &mut [f32]),
    ) -> (Vec<Vec<f32>>, CommTiming) {
        let out = sizes
            .iter()
            .enumerate()
            .map(|(k, &n)| {
                let mut b = vec![0.0; n];
                fill(k, &mut b);
                b
            })
            .collect();
        let bytes = 4 * sizes.iter().sum::<usize>() as u64;
        (out, CommTiming { bytes, buckets: sizes.len(), ..CommTiming::default() })
    }
    fn all_reduce_f64(&mut self, _values: &mut [f64]) {}
    fn all_gather_u64(&mut self, value: u64) -> Vec<u64> {
        vec![value]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_contiguous_and_cover_everything() {
        assert_eq!(buckets(&[3, 3, 3, 10, 1], 6), vec![0..2, 2..4, 4..5]);
        assert_eq!(buckets(&[100], 6), vec![0..1]);
        assert_eq!(buckets(&[], 6), Vec::<std::ops::Range<usize>>::new());
        assert_eq!(buckets(&[1, 1, 1], 0), vec![0..1, 1..2, 2..3]);
    }

    #[test]
    fn shards_are_disjoint_and_cover_the_global_batch() {
        let global: Vec<usize> = (0..12).collect();
        let parts: Vec<&[usize]> = (0..3).map(|rank| Shard { rank, ranks: 3 }.slice(&global)).collect();
        assert_eq!(parts.concat(), global);
        assert_eq!(Shard { rank: 1, ranks: 3 }.per_rank(12).unwrap(), 4);
        let err = Shard { rank: 0, ranks: 5 }.per_rank(12).unwrap_err().to_string();
        assert!(err.contains("12") && err.contains("5 ranks"), "{err}");
    }
}

#[cfg(all(test, feature = "cpu"))]
mod cpu_tests {
    use burn::module::{Module, ModuleVisitor, Param, ParamId};
    use burn::optim::GradientsParams;
    use burn::tensor::{Int, Tensor, TensorData};

    use super::*;
    use crate::model::TransformerConfig;
    use crate::train::trainer::lm_loss;

    type B = burn::backend::Autodiff<burn::backend::Flex>;
    type Inner = burn::backend::Flex;

    /// Rank 0 of two whose peer sent zeros: every sum is this rank's own bucket, so the mean is
    /// exactly half of each gradient — wherever the buckets cut.
    struct ZeroPeer;

    impl Collective for ZeroPeer {
        fn rank(&self) -> usize {
            0
        }
        fn ranks(&self) -> usize {
            2
        }
        fn all_reduce_buckets(
            &mut self,
            sizes: &[usize],
            fill: &mut dyn FnMut(usize, &mut [f32]),
        ) -> (Vec<Vec<f32>>, CommTiming) {
            Alone.all_reduce_buckets(sizes, fill)
        }
        fn all_reduce_f64(&mut self, _values: &mut [f64]) {}
        fn all_gather_u64(&mut self, value: u64) -> Vec<u64> {
            vec![value, value ^ 1]
        }
    }

    /// Every float parameter's gradient, flattened, by id.
    fn grads_of<M: Module<B>>(model: &M, grads: &GradientsParams) -> HashMap<ParamId, Vec<f32>> {
        struct Collect<'a>(&'a GradientsParams, HashMap<ParamId, Vec<f32>>);
        impl ModuleVisitor<B> for Collect<'_> {
            fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<B, D>>) {
                let g = self.0.get::<Inner, D>(param.id).expect("every parameter has a gradient");
                self.1.insert(param.id, g.into_data().to_vec::<f32>().unwrap());
            }
        }
        let mut c = Collect(grads, HashMap::new());
        model.visit(&mut c);
        c.1
    }

    #[test]
    fn every_parameter_gets_its_own_mean_back_in_its_own_shape() {
        let device = Default::default();
        let model = TransformerConfig::new(64, 8, 16, 2, 2, 32).init_seeded::<B>(1, &device);
        let ids: Vec<i64> = (0..32).map(|i| (i * 7 % 64) as i64).collect();
        let x = Tensor::<B, 2, Int>::from_data(TensorData::new(ids.clone(), [4, 8]), &device);
        let y = Tensor::<B, 2, Int>::from_data(
            TensorData::new(ids.iter().map(|i| (i + 1) % 64).collect(), [4, 8]),
            &device,
        );
        let loss = lm_loss(&model, x, y);
        let mut grads = GradientsParams::from_grads(loss.backward(), &model);
        let before = grads_of(&model, &grads);
        // 1 KiB buckets: many of them, cutting between parameters of every size.
        let timing = reduce_gradients::<B, _>(&model, &mut grads, &mut ZeroPeer, 1024);
        let after = grads_of(&model, &grads);
        assert_eq!(before.len(), after.len());
        let numel: usize = before.values().map(Vec::len).sum();
        assert_eq!(timing.bytes, 4 * numel as u64);
        assert!(timing.buckets > 5, "{timing:?}");
        for (id, g) in &before {
            let halved: Vec<f32> = g.iter().map(|v| v * 0.5).collect();
            assert_eq!(after[id], halved, "parameter {id}");
        }
    }

    #[test]
    fn drift_between_ranks_stops_the_run_naming_them() {
        let err = check_replicas(&mut ZeroPeer, 0xabc, 300).unwrap_err().to_string();
        assert!(err.contains("step 300") && err.contains("rank 1") && err.contains("0000000000000abc"), "{err}");
        assert!(check_replicas(&mut Alone, 7, 1).is_ok());
    }
}
