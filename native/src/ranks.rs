//! One rank of a data-parallel job: `mpirun -n N lmlab train …` (how the ranks share the batch and
//! average gradients is `lmlab::train::parallel`; this file is the process side).
//!
//! **Why MPI.** `mpirun` (or Slurm's `srun`) starts one process per device, on one machine or many,
//! and every cluster already has it; burn 0.21's `distributed` feature is one process driving the
//! CUDA devices of one machine (NCCL inside its autodiff, `unimplemented!` on every other backend),
//! so it could neither span machines nor be tested on the CPU. MPI launches the ranks and reduces
//! host tensors (the CPU backend's gradients, wgpu's read back, the loss, the stop flag, the weight
//! hashes). CUDA gradients are reduced by **NCCL**, on the GPUs, in a communicator bootstrapped over
//! MPI as llm.c does (rank 0 makes NCCL's unique id, MPI broadcasts it, every rank joins on its own
//! device): feature `nccl` ([`nccl`]), which needs libnccl at run time.
//!
//! **What a rank does differently.** It reads its rank from MPI and trains on CUDA device
//! `local rank` (one process per GPU, as torchrun does); rank 0 prints the log and writes
//! checkpoints, the others send their standard output to `--rank-log DIR/rank-R.log` or nowhere.
//! A rank that dies takes the job down: mpirun sends the others SIGTERM, and each says so on
//! standard error, naming the last checkpoint (written atomically, so it is intact).
//!
//! A binary built without the `mpi` feature still notices it was started by a launcher (from the
//! launcher's environment) and refuses, rather than letting N copies train alone and overwrite
//! one another's checkpoints.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;

use lmlab::train::parallel::Collective;

/// What the launcher told this process about its job, from the environment it set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Launch {
    pub rank: usize,
    pub ranks: usize,
    /// The rank among this machine's ranks: which GPU it drives.
    pub local_rank: usize,
}

/// The job this process was launched into, when a launcher started more than one rank: OpenMPI's
/// `mpirun` (OMPI_COMM_WORLD_*), MPICH/Intel MPI's Hydra (PMI_*) and Slurm's `srun` (SLURM_*).
pub fn launch() -> Option<Launch> {
    let var = |name: &str| std::env::var(name).ok().and_then(|v| v.trim().parse::<usize>().ok());
    let schemes = [
        ("OMPI_COMM_WORLD_RANK", "OMPI_COMM_WORLD_SIZE", "OMPI_COMM_WORLD_LOCAL_RANK"),
        ("PMI_RANK", "PMI_SIZE", "MPI_LOCALRANKID"),
        ("SLURM_PROCID", "SLURM_NTASKS", "SLURM_LOCALID"),
    ];
    schemes.iter().find_map(|(rank, size, local)| {
        let (rank, ranks) = (var(rank)?, var(size)?);
        (ranks > 1).then(|| Launch { rank, ranks, local_rank: var(local).unwrap_or(0) })
    })
}

/// Joins the job: MPI's world, as the trainer's collective.
#[cfg(feature = "mpi")]
pub fn join(launch: &Launch) -> Result<Box<dyn Collective>, String> {
    mpi_group::MpiGroup::init(launch).map(|g| Box::new(g) as Box<dyn Collective>)
}

/// Without MPI compiled in there is nothing to join: say how to get it.
#[cfg(not(feature = "mpi"))]
pub fn join(launch: &Launch) -> Result<Box<dyn Collective>, String> {
    Err(format!(
        "this process is rank {} of {} started by an MPI launcher, but this lmlab was built without MPI: build it with \
         `cargo build -p native --release --features mpi` (needs OpenMPI: apt install openmpi-bin libopenmpi-dev \
         libclang-dev), or run it without mpirun to train on one device",
        launch.rank, launch.ranks
    ))
}

/// The job's context for the message a rank prints when the launcher ends it (see [`on_signal`]).
struct JobNote {
    rank: usize,
    ranks: usize,
    out: PathBuf,
    global_batch: usize,
}

static JOB: OnceLock<JobNote> = OnceLock::new();
/// The step of the newest checkpoint rank 0 wrote (`usize::MAX`: none yet).
static SAVED: AtomicUsize = AtomicUsize::new(usize::MAX);

/// Remembers what to tell the user if the launcher ends the job (the first call wins).
pub fn remember(launch: &Launch, out: &Path, global_batch: usize) {
    let _ = JOB.set(JobNote { rank: launch.rank, ranks: launch.ranks, out: out.to_path_buf(), global_batch });
}

/// Records that the checkpoint of `step` is on disk.
pub fn saved(step: usize) {
    SAVED.store(step, Ordering::SeqCst);
}

/// Under a launcher, a SIGTERM or SIGINT means the job is being torn down (a rank died, or the
/// user pressed Ctrl-C on mpirun, which then ends every rank): the ranks cannot finish a step
/// together any more, so this one says what happened and what is kept, and exits. Returns false
/// when this process is not a rank of a job (the caller's Ctrl-C handling applies).
pub fn on_signal() -> bool {
    let Some(job) = JOB.get() else { return false };
    let kept = match SAVED.load(Ordering::SeqCst) {
        usize::MAX if job.rank == 0 => format!("no checkpoint was written yet in {}", job.out.display()),
        usize::MAX => format!("rank 0 keeps the last checkpoint in {}", job.out.display()),
        step => format!("the checkpoint of step {step} in {} is intact", job.out.display()),
    };
    eprintln!(
        "lmlab: rank {} of {}: the launcher is ending the job — a rank died or mpirun was interrupted (mpirun names \
         which); {kept}. Continue with `lmlab train --resume {}` on any rank count that divides the global batch of \
         {}",
        job.rank,
        job.ranks,
        job.out.display(),
        job.global_batch
    );
    std::process::exit(143);
}

/// Sends this process's standard output to `DIR/rank-R.log` (or nowhere): only rank 0 prints the
/// job's log.
pub fn quiet_stdout(launch: &Launch, dir: Option<&Path>) -> Result<(), String> {
    use std::os::fd::AsRawFd;
    let file = match dir {
        Some(dir) => {
            std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
            let path = dir.join(format!("rank-{}.log", launch.rank));
            std::fs::File::create(&path).map_err(|e| format!("{}: {e}", path.display()))?
        }
        None => std::fs::OpenOptions::new().write(true).open("/dev/null").map_err(|e| format!("/dev/null: {e}"))?,
    };
    // SAFETY: both descriptors are open; dup2 replaces fd 1 atomically (Rust's stdout is unbuffered
    // at this level: `println!` writes through its line buffer to fd 1 each line).
    if unsafe { libc::dup2(file.as_raw_fd(), 1) } < 0 {
        return Err(format!("redirecting rank {}'s output: {}", launch.rank, std::io::Error::last_os_error()));
    }
    Ok(())
}

#[cfg(feature = "mpi")]
mod mpi_group {
    use std::time::Instant;

    use lmlab::train::parallel::{Collective, CommTiming};
    use mpi::collective::SystemOperation;
    use mpi::environment::Universe;
    use mpi::topology::SimpleCommunicator;
    use mpi::traits::*;

    use super::Launch;

    /// MPI's world communicator (the universe finalizes MPI when dropped, after the world), and
    /// NCCL's for CUDA tensors once the first one arrives.
    pub struct MpiGroup {
        world: SimpleCommunicator,
        #[cfg(feature = "nccl")]
        nccl: Option<super::nccl::Nccl>,
        _universe: Universe,
    }

    impl MpiGroup {
        pub fn init(launch: &Launch) -> Result<Self, String> {
            let universe = mpi::initialize().ok_or("MPI was already initialized in this process")?;
            let world = universe.world();
            let (rank, ranks) = (world.rank() as usize, world.size() as usize);
            if (rank, ranks) != (launch.rank, launch.ranks) {
                return Err(format!(
                    "MPI says rank {rank} of {ranks} but the launcher's environment says rank {} of {}: is this lmlab \
                     linked against the MPI whose mpirun started it?",
                    launch.rank, launch.ranks
                ));
            }
            Ok(Self {
                world,
                #[cfg(feature = "nccl")]
                nccl: None,
                _universe: universe,
            })
        }
    }

    impl Collective for MpiGroup {
        fn rank(&self) -> usize {
            self.world.rank() as usize
        }

        fn ranks(&self) -> usize {
            self.world.size() as usize
        }

        /// Non-blocking all-reduces (MPI_Iallreduce), one per bucket, started as each is packed;
        /// between buckets the outstanding ones are tested, which is what makes MPI progress them.
        fn all_reduce_buckets(
            &mut self,
            sizes: &[usize],
            fill: &mut dyn FnMut(usize, &mut [f32]),
        ) -> (Vec<Vec<f32>>, CommTiming) {
            let mut send: Vec<Vec<f32>> = sizes.iter().map(|&n| vec![0.0; n]).collect();
            let mut recv: Vec<Vec<f32>> = sizes.iter().map(|&n| vec![0.0; n]).collect();
            let world = &self.world;
            let (hidden_s, exposed_s) = mpi::request::scope(|scope| {
                let mut pending = Vec::new();
                let mut first_sent: Option<Instant> = None;
                let mut all_done_at: Option<Instant> = None;
                for (k, (s, r)) in send.iter_mut().zip(recv.iter_mut()).enumerate() {
                    fill(k, s);
                    let s: &Vec<f32> = s;
                    first_sent.get_or_insert_with(Instant::now);
                    pending.push(world.immediate_all_reduce_into(scope, &s[..], &mut r[..], SystemOperation::sum()));
                    pending = pending.into_iter().filter_map(|req| req.test().err()).collect();
                    all_done_at = pending.is_empty().then(Instant::now);
                }
                let packed = Instant::now();
                let busy_until = all_done_at.unwrap_or(packed);
                let hidden = first_sent.map_or(0.0, |t| busy_until.saturating_duration_since(t).as_secs_f64());
                for req in pending {
                    req.wait();
                }
                (hidden, packed.elapsed().as_secs_f64())
            });
            let bytes = 4 * sizes.iter().sum::<usize>() as u64;
            (recv, CommTiming { hidden_s, exposed_s, bytes, buckets: sizes.len() })
        }

        /// CUDA tensors go to NCCL (the communicator is made on the first one's device).
        #[cfg(feature = "nccl")]
        fn reduces_on_device(&self, example: &dyn std::any::Any) -> bool {
            super::nccl::is_cuda(example)
        }

        #[cfg(feature = "nccl")]
        fn all_reduce_device(&mut self, bucket: &mut dyn std::any::Any) {
            super::nccl::all_reduce(&mut self.nccl, &self.world, bucket)
        }

        fn all_reduce_f64(&mut self, values: &mut [f64]) {
            let mine = values.to_vec();
            self.world.all_reduce_into(&mine[..], values, SystemOperation::sum());
        }

        fn all_gather_u64(&mut self, value: u64) -> Vec<u64> {
            let mut all = vec![0u64; self.ranks()];
            self.world.all_gather_into(&value, &mut all[..]);
            all
        }
    }
}

/// NCCL for CUDA tensors, bootstrapped over MPI.
///
/// The gradients of a bucket are one contiguous buffer on the GPU (`Tensor::cat`); burn's fusion
/// stream is drained for it, the device synchronized, and NCCL sums the buffer in place on the
/// legacy default stream, which the host then waits for: no overlap with the backward (burn's
/// autodiff has no per-parameter hooks to start from), but no trip through host memory either.
/// Untested on more than one GPU here (the project's device machine has one); a single rank never
/// forms a job, so a world of one exercises nothing of this.
#[cfg(feature = "nccl")]
mod nccl {
    use std::any::Any;
    use std::ffi::c_void;

    use burn_cubecl::cubecl::cuda::CudaRuntime;
    use burn_cubecl::fusion::FusionCubeRuntime;
    use burn_cubecl::tensor::CubeTensor;
    use burn_cubecl::CubeBackend;
    use burn_fusion::FusionTensor;
    use cudarc::nccl::{result as nccl, sys};
    use mpi::topology::SimpleCommunicator;
    use mpi::traits::*;

    type Cube = CubeBackend<CudaRuntime, f32, i32, u8>;

    /// One NCCL communicator over every rank of the MPI world.
    pub struct Nccl {
        comm: sys::ncclComm_t,
    }

    impl Nccl {
        /// Rank 0 makes the unique id, MPI broadcasts its 128 bytes, every rank joins on `device`.
        fn init(world: &SimpleCommunicator, device: usize) -> Result<Self, String> {
            let mut id = if world.rank() == 0 {
                nccl::get_uniqueid().map_err(|e| format!("ncclGetUniqueId: {e:?}"))?
            } else {
                sys::ncclUniqueId { internal: [0; 128] }
            };
            let mut bytes: Vec<u8> = id.internal.iter().map(|&c| c as u8).collect();
            world.process_at_rank(0).broadcast_into(&mut bytes[..]);
            for (c, b) in id.internal.iter_mut().zip(&bytes) {
                *c = *b as std::ffi::c_char;
            }
            // NCCL works in the calling thread's current context: the device's primary context,
            // the one cubecl allocates in.
            use cudarc::driver::result as cu;
            cu::init().map_err(|e| format!("cuInit: {e:?}"))?;
            let dev = cu::device::get(device as i32).map_err(|e| format!("CUDA device {device}: {e:?}"))?;
            // SAFETY: `dev` is a valid device; the primary context is retained for the process.
            unsafe {
                let ctx = cu::primary_ctx::retain(dev).map_err(|e| format!("CUDA context: {e:?}"))?;
                cu::ctx::set_current(ctx).map_err(|e| format!("CUDA context: {e:?}"))?;
            }
            let mut comm: sys::ncclComm_t = std::ptr::null_mut();
            // SAFETY: `comm` is a valid out-pointer; every rank passes the same id.
            unsafe { nccl::comm_init_rank(&mut comm, world.size(), id, world.rank()) }
                .map_err(|e| format!("ncclCommInitRank: {e:?} (is libnccl installed?)"))?;
            Ok(Self { comm })
        }

        /// Sums `t`'s f32 buffer across ranks, in place.
        fn sum_in_place(&self, t: &CubeTensor<CudaRuntime>) -> Result<(), String> {
            burn_cubecl::cubecl::future::block_on(t.client.sync()).map_err(|e| format!("CUDA sync: {e:?}"))?;
            let resource = t.client.get_resource(t.handle.clone()).map_err(|e| format!("CUDA buffer: {e:?}"))?;
            let ptr = resource.resource().ptr as *mut c_void;
            let count = t.meta.shape().num_elements();
            // SAFETY: `ptr` is `count` f32 on this rank's device, alive while `resource` is held;
            // the device is idle (synchronized above) and waited for below.
            unsafe {
                nccl::all_reduce(
                    ptr,
                    ptr,
                    count,
                    sys::ncclDataType_t::ncclFloat32,
                    sys::ncclRedOp_t::ncclSum,
                    self.comm,
                    std::ptr::null_mut(),
                )
                .map_err(|e| format!("ncclAllReduce: {e:?}"))?;
            }
            cudarc::driver::result::ctx::synchronize().map_err(|e| format!("CUDA sync: {e:?}"))?;
            Ok(())
        }
    }

    /// Whether `t` is a CUDA float tensor (fused or not), which NCCL can reduce.
    pub fn is_cuda(t: &dyn Any) -> bool {
        t.is::<FusionTensor<FusionCubeRuntime<CudaRuntime>>>() || t.is::<CubeTensor<CudaRuntime>>()
    }

    /// Sums `bucket`, a CUDA tensor ([`is_cuda`]), with NCCL. A failure ends the rank with the
    /// reason: the others would wait forever.
    pub fn all_reduce(nccl: &mut Option<Nccl>, world: &SimpleCommunicator, bucket: &mut dyn Any) {
        let cube = if let Some(fused) = bucket.downcast_ref::<FusionTensor<FusionCubeRuntime<CudaRuntime>>>() {
            fused.client.clone().resolve_tensor_float::<Cube>(fused.clone())
        } else if let Some(cube) = bucket.downcast_ref::<CubeTensor<CudaRuntime>>() {
            cube.clone()
        } else {
            unreachable!("all_reduce is only given CUDA tensors (is_cuda)");
        };
        let result = match nccl {
            Some(n) => n.sum_in_place(&cube),
            None => Nccl::init(world, cube.device.index).and_then(|n| n.sum_in_place(&cube).map(|_| n)).map(|n| {
                *nccl = Some(n);
            }),
        };
        if let Err(e) = result {
            eprintln!("error: rank {}: NCCL: {e}", world.rank());
            world.abort(3);
        }
    }
}
