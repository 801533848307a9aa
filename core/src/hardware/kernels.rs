//! The lab's kernels: which WGSL file each step is, what it teaches, and how it is launched.
//!
//! The sources live in the workspace's `shaders/` folder (one commented file per lesson step) and
//! are embedded here, so the CLI and the web page run — and show — the very same text.

use serde::Serialize;

/// One kernel of the Hardware lab, in lesson order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Kernel {
    /// Memory bandwidth: a `vec4<f32>` copy.
    Copy,
    /// Matmul, one invocation per output, rows along x (uncoalesced).
    Naive,
    /// Matmul, one invocation per output, columns along x (coalesced).
    Coalesced,
    /// Matmul with 16×16 tiles in workgroup memory.
    Tiled,
    /// Matmul with 4×4 outputs per invocation in registers and `vec4` loads.
    Register,
    /// The register-blocked matmul on f16 inputs (adapter feature `shader-f16`).
    F16,
}

/// Side of the square workgroup every matmul kernel uses (16×16 = 256 invocations).
pub const WORKGROUP_SIDE: u32 = 16;
/// Invocations per workgroup of the copy kernel.
pub const COPY_WORKGROUP: u32 = 256;

impl Kernel {
    /// Every kernel, in lesson order.
    pub const ALL: [Kernel; 6] =
        [Kernel::Copy, Kernel::Naive, Kernel::Coalesced, Kernel::Tiled, Kernel::Register, Kernel::F16];
    /// The matrix multiplies, naive first.
    pub const MATMULS: [Kernel; 5] = [Kernel::Naive, Kernel::Coalesced, Kernel::Tiled, Kernel::Register, Kernel::F16];

    /// Short name used on the command line, in URLs and in JSON.
    pub fn key(self) -> &'static str {
        match self {
            Kernel::Copy => "copy",
            Kernel::Naive => "naive",
            Kernel::Coalesced => "coalesced",
            Kernel::Tiled => "tiled",
            Kernel::Register => "register",
            Kernel::F16 => "f16",
        }
    }

    pub fn title(self) -> &'static str {
        match self {
            Kernel::Copy => "Copy (bandwidth)",
            Kernel::Naive => "Naive",
            Kernel::Coalesced => "Coalesced",
            Kernel::Tiled => "Tiled (shared memory)",
            Kernel::Register => "Register-blocked",
            Kernel::F16 => "Register-blocked, f16",
        }
    }

    /// Parses a key (`register`, `f16` …); the error lists the keys.
    pub fn parse(text: &str) -> Result<Kernel, crate::InputError> {
        let t = text.trim().to_ascii_lowercase();
        Kernel::ALL.into_iter().find(|k| k.key() == t).ok_or_else(|| {
            let keys: Vec<&str> = Kernel::ALL.iter().map(|k| k.key()).collect();
            crate::InputError::new("kernel", text, format!("one of: {}", keys.join(", ")))
        })
    }

    /// The file in `shaders/`.
    pub fn file(self) -> &'static str {
        match self {
            Kernel::Copy => "copy.wgsl",
            Kernel::Naive => "matmul_naive.wgsl",
            Kernel::Coalesced => "matmul_coalesced.wgsl",
            Kernel::Tiled => "matmul_tiled.wgsl",
            Kernel::Register => "matmul_register.wgsl",
            Kernel::F16 => "matmul_f16.wgsl",
        }
    }

    /// The WGSL source (the file's exact text).
    pub fn source(self) -> &'static str {
        match self {
            Kernel::Copy => include_str!("../../../shaders/copy.wgsl"),
            Kernel::Naive => include_str!("../../../shaders/matmul_naive.wgsl"),
            Kernel::Coalesced => include_str!("../../../shaders/matmul_coalesced.wgsl"),
            Kernel::Tiled => include_str!("../../../shaders/matmul_tiled.wgsl"),
            Kernel::Register => include_str!("../../../shaders/matmul_register.wgsl"),
            Kernel::F16 => include_str!("../../../shaders/matmul_f16.wgsl"),
        }
    }

    /// The lesson of this step, in two or three sentences (the source's header says more).
    pub fn lesson(self) -> &'static str {
        match self {
            Kernel::Copy => {
                "Before any arithmetic: how fast can this GPU move bytes? Each invocation copies 16 bytes \
                 (a vec4) per trip; read + write bytes over time is the bandwidth roof of the roofline."
            }
            Kernel::Naive => {
                "One invocation per output, computing a K-long dot product straight from global memory. \
                 Rows run along x, so the 32 neighbours of a warp read addresses a whole row apart: every \
                 load is its own transaction, and nothing loaded is ever reused."
            }
            Kernel::Coalesced => {
                "The same arithmetic with x along the columns: neighbouring invocations read neighbouring \
                 B elements and share one A element, so the memory system merges their loads. How memory is \
                 read changed, not how much."
            }
            Kernel::Tiled => {
                "A 16×16 workgroup stages 16×16 tiles of A and B in fast workgroup memory, waits at a \
                 barrier, and computes from them: each global load now feeds 16 multiply-adds instead of one."
            }
            Kernel::Register => {
                "Each invocation keeps a 4×4 block of outputs in registers and the workgroup covers 64×64: \
                 per k it reads one vec4 of A and one of B from workgroup memory and does their outer \
                 product (16 multiply-adds, 8× the tiled kernel's work per read); global loads are 16-byte \
                 vec4s, and each element loaded is reused 64 times."
            }
            Kernel::F16 => {
                "The register-blocked kernel on f16 inputs: half the bytes per element and packed f16 math \
                 where the GPU has it. Sixteen products are summed in f16, then added into f32 accumulators \
                 so the long sum keeps its digits (the Precision lab's accumulation lesson)."
            }
        }
    }

    /// Bytes per input element (A and B); outputs are always f32.
    pub fn input_bytes(self) -> u64 {
        if self == Kernel::F16 {
            2
        } else {
            4
        }
    }

    /// Whether the kernel needs the adapter's `shader-f16` feature.
    pub fn needs_f16(self) -> bool {
        self == Kernel::F16
    }

    /// Outputs covered by one workgroup along (columns or rows of C, see [`Kernel::dispatch`]).
    fn block(self) -> u32 {
        match self {
            Kernel::Register | Kernel::F16 => 4 * WORKGROUP_SIDE,
            _ => WORKGROUP_SIDE,
        }
    }

    /// Workgroups to dispatch for an `m × n` output, as (x, y).
    ///
    /// The naive kernel puts rows on x; every other matmul puts columns on x.
    pub fn dispatch(self, m: u32, n: u32) -> (u32, u32) {
        let b = self.block();
        match self {
            Kernel::Copy => (1, 1),
            Kernel::Naive => (m.div_ceil(b), n.div_ceil(b)),
            _ => (n.div_ceil(b), m.div_ceil(b)),
        }
    }

    /// Workgroup memory the kernel declares, in bytes (checked against the adapter's limit).
    pub fn workgroup_storage_bytes(self) -> u64 {
        match self {
            Kernel::Copy | Kernel::Naive | Kernel::Coalesced => 0,
            Kernel::Tiled => 2 * 16 * 16 * 4,
            Kernel::Register => 2 * 1024 * 4,
            Kernel::F16 => 2 * 1024 * 2,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_source_is_its_file_and_declares_main() {
        for k in Kernel::ALL {
            assert!(k.source().contains("fn main("), "{}", k.file());
            assert!(k.source().contains("@compute"), "{}", k.file());
            assert_eq!(Kernel::parse(k.key()).unwrap(), k);
        }
        assert!(Kernel::F16.source().contains("enable f16;"));
        assert!(!Kernel::Register.source().contains("enable f16;"));
        let err = Kernel::parse("fast").unwrap_err().to_string();
        assert!(err.contains("fast") && err.contains("register"), "{err}");
    }

    #[test]
    fn dispatch_covers_every_output_once() {
        // 100 × 70 outputs: the naive kernel walks rows on x, the others columns; register blocks are 64 wide.
        assert_eq!(Kernel::Naive.dispatch(100, 70), (7, 5));
        assert_eq!(Kernel::Tiled.dispatch(100, 70), (5, 7));
        assert_eq!(Kernel::Register.dispatch(100, 70), (2, 2));
        assert_eq!(Kernel::Register.dispatch(64, 65), (2, 1));
    }
}
