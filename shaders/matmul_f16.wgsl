// Lesson step 5 — half precision: the register-blocked kernel with f16 inputs.
//
// Needs the adapter's `shader-f16` feature. A and B are stored as f16 (2 bytes instead of 4), so
// each element costs half the memory traffic, and the multiply-adds run on f16 vectors, which many
// GPUs execute at twice the f32 rate (packed math). WGSL has no tensor-core access: this is the
// vector units' f16 rate, not the "FP16 tensor" figure of datasheets.
//
// Precision, as in the Precision lab: a long f16 sum would lose digits (f16 has an 11-bit
// significand), so the 16 products of each K step are summed in f16 and then added into f32
// accumulators — the same idea as mixed-precision matmuls that accumulate in f32.
// Layout as in matmul_register.wgsl; row strides are padded to a multiple of 4 elements.

enable f16;

const BM: u32 = 64u;
const BN: u32 = 64u;
const BK: u32 = 16u;

struct Params {
    m: u32,
    n: u32,
    k: u32,
    lda: u32,
    ldb: u32,
    ldc: u32,
    _pad0: u32,
    _pad1: u32,
}

@group(0) @binding(0) var<storage, read> a: array<vec4<f16>>;
@group(0) @binding(1) var<storage, read> b: array<vec4<f16>>;
@group(0) @binding(2) var<storage, read_write> c: array<vec4<f32>>;
@group(0) @binding(3) var<uniform> p: Params;

// As in matmul_register.wgsl: A's block transposed as vec4s of four rows, B's block as vec4s.
var<workgroup> a_tile: array<vec4<f16>, 256>;
var<workgroup> b_tile: array<vec4<f16>, 256>;

@compute @workgroup_size(16, 16)
fn main(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>) {
    let t = lid.y * 16u + lid.x;
    let block_row = wid.y * BM;
    let block_col = wid.x * BN;
    // Four named accumulators rather than an array: an array indexed in a loop may be placed in
    // memory by some compilers, and these must stay in registers.
    var acc0 = vec4<f32>(0.0);
    var acc1 = vec4<f32>(0.0);
    var acc2 = vec4<f32>(0.0);
    var acc3 = vec4<f32>(0.0);
    let a_row = t / 4u;
    let a_quad = t % 4u;
    let b_row = t / 16u;
    let b_quad = t % 16u;

    for (var k0 = 0u; k0 < p.k; k0 += BK) {
        let ar = block_row + a_row;
        let ak = k0 + a_quad * 4u;
        var av = vec4<f16>(0.0h);
        if ar < p.m && ak < p.k {
            av = a[(ar * p.lda + ak) / 4u];
        }
        let slot = a_row / 4u;
        let lane = a_row % 4u;
        a_tile[(a_quad * 4u + 0u) * (BM / 4u) + slot][lane] = av.x;
        a_tile[(a_quad * 4u + 1u) * (BM / 4u) + slot][lane] = av.y;
        a_tile[(a_quad * 4u + 2u) * (BM / 4u) + slot][lane] = av.z;
        a_tile[(a_quad * 4u + 3u) * (BM / 4u) + slot][lane] = av.w;

        let bk = k0 + b_row;
        let bc = block_col + b_quad * 4u;
        var bv = vec4<f16>(0.0h);
        if bk < p.k && bc < p.n {
            bv = b[(bk * p.ldb + bc) / 4u];
        }
        b_tile[b_row * (BN / 4u) + b_quad] = bv;
        workgroupBarrier();

        // 16 products per output summed in f16, then flushed into the f32 accumulators.
        var part0 = vec4<f16>(0.0h);
        var part1 = vec4<f16>(0.0h);
        var part2 = vec4<f16>(0.0h);
        var part3 = vec4<f16>(0.0h);
        for (var k = 0u; k < BK; k++) {
            let bq = b_tile[k * (BN / 4u) + lid.x];
            let aq = a_tile[k * (BM / 4u) + lid.y];
            part0 += aq.x * bq;
            part1 += aq.y * bq;
            part2 += aq.z * bq;
            part3 += aq.w * bq;
        }
        acc0 += vec4<f32>(part0);
        acc1 += vec4<f32>(part1);
        acc2 += vec4<f32>(part2);
        acc3 += vec4<f32>(part3);
        workgroupBarrier();
    }

    let col = block_col + lid.x * 4u;
    let row = block_row + lid.y * 4u;
    if col < p.n {
        // Columns col..col+4 may run past n into the zero padding of C's stride: harmless.
        if row < p.m {
            c[(row * p.ldc + col) / 4u] = acc0;
        }
        if row + 1u < p.m {
            c[((row + 1u) * p.ldc + col) / 4u] = acc1;
        }
        if row + 2u < p.m {
            c[((row + 2u) * p.ldc + col) / 4u] = acc2;
        }
        if row + 3u < p.m {
            c[((row + 3u) * p.ldc + col) / 4u] = acc3;
        }
    }
}
