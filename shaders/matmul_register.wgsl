// Lesson step 4 — register blocking with vectorized loads.
//
// A 16×16 workgroup now computes a 64×64 block of C: each invocation owns a 4×4 tile of outputs
// held in registers (four vec4 accumulators). Per step of K it reads one vec4 of A and one vec4
// of B from workgroup memory and does 16 multiply-adds (an outer product): 8 FLOPs per
// shared-memory read instead of the tiled kernel's 1, and each global element is reused 64 times.
// Global loads are vec4<f32> (16 bytes): the matrices' row strides are padded to a multiple of 4
// floats by the host (padding is zero and never part of the answer), so every vec4 is aligned.
//
// Tiles: A block 64×16 and B block 16×64 per K step, 1,024 floats each: exactly one vec4 load per
// invocation for each. A is stored transposed in workgroup memory (a_tile[k][m], as vec4s of four
// consecutive rows), so the four A values an invocation needs for one k are one vec4 read.

const BM: u32 = 64u;
const BN: u32 = 64u;
const BK: u32 = 16u;

struct Params {
    m: u32,
    n: u32,
    k: u32,
    // Row strides in floats (multiples of 4).
    lda: u32,
    ldb: u32,
    ldc: u32,
    _pad0: u32,
    _pad1: u32,
}

@group(0) @binding(0) var<storage, read> a: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read> b: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read_write> c: array<vec4<f32>>;
@group(0) @binding(3) var<uniform> p: Params;

// a_tile[k * (BM / 4) + m / 4]: A's block, transposed, as vec4s of rows. b_tile[k * (BN / 4) + n / 4]: B's block.
var<workgroup> a_tile: array<vec4<f32>, 256>;
var<workgroup> b_tile: array<vec4<f32>, 256>;

@compute @workgroup_size(16, 16)
fn main(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>) {
    let t = lid.y * 16u + lid.x;
    let block_row = wid.y * BM;
    let block_col = wid.x * BN;
    // This invocation's outputs: rows block_row + 4·lid.y + i, columns block_col + 4·lid.x + 0..4.
    // Four named accumulators rather than an array: an array indexed in a loop may be placed in
    // memory by some compilers, and these must stay in registers.
    var acc0 = vec4<f32>(0.0);
    var acc1 = vec4<f32>(0.0);
    var acc2 = vec4<f32>(0.0);
    var acc3 = vec4<f32>(0.0);

    // Which vec4 of each block this invocation loads: A row t / 4, K quad t % 4; B row t / 16, column quad t % 16.
    let a_row = t / 4u;
    let a_quad = t % 4u;
    let b_row = t / 16u;
    let b_quad = t % 16u;

    for (var k0 = 0u; k0 < p.k; k0 += BK) {
        let ar = block_row + a_row;
        let ak = k0 + a_quad * 4u;
        var av = vec4<f32>(0.0);
        // ak < k suffices: the padded stride makes the whole vec4 in-bounds, its tail zeros.
        if ar < p.m && ak < p.k {
            av = a[(ar * p.lda + ak) / 4u];
        }
        // Transpose on the way in: A[row][k..k+4] becomes component row % 4 of four vec4s.
        let slot = a_row / 4u;
        let lane = a_row % 4u;
        a_tile[(a_quad * 4u + 0u) * (BM / 4u) + slot][lane] = av.x;
        a_tile[(a_quad * 4u + 1u) * (BM / 4u) + slot][lane] = av.y;
        a_tile[(a_quad * 4u + 2u) * (BM / 4u) + slot][lane] = av.z;
        a_tile[(a_quad * 4u + 3u) * (BM / 4u) + slot][lane] = av.w;

        let bk = k0 + b_row;
        let bc = block_col + b_quad * 4u;
        var bv = vec4<f32>(0.0);
        if bk < p.k && bc < p.n {
            bv = b[(bk * p.ldb + bc) / 4u];
        }
        b_tile[b_row * (BN / 4u) + b_quad] = bv;
        workgroupBarrier();

        for (var k = 0u; k < BK; k++) {
            let bq = b_tile[k * (BN / 4u) + lid.x];
            let aq = a_tile[k * (BM / 4u) + lid.y];
            acc0 += aq.x * bq;
            acc1 += aq.y * bq;
            acc2 += aq.z * bq;
            acc3 += aq.w * bq;
        }
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
