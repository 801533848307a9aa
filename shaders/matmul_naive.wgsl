// Lesson step 1 — the naive matrix multiply: C = A · B, one invocation per output element.
//
// A is M×K, B is K×N, C is M×N, all row-major with row strides lda, ldb, ldc (in elements).
// The "obvious" mapping: invocation x walks the rows, y the columns. Neighbouring invocations
// (consecutive x, which the GPU runs together as one warp / subgroup) then read A at addresses
// lda floats apart and write C at addresses ldc floats apart: every load is its own memory
// transaction. Each output also re-reads a whole row of A and column of B from global memory:
// 2·K loads for 2·K FLOPs, an arithmetic intensity of 1/4 FLOP per byte.

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

@group(0) @binding(0) var<storage, read> a: array<f32>;
@group(0) @binding(1) var<storage, read> b: array<f32>;
@group(0) @binding(2) var<storage, read_write> c: array<f32>;
@group(0) @binding(3) var<uniform> p: Params;

@compute @workgroup_size(16, 16)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
    let row = gid.x;
    let col = gid.y;
    if row >= p.m || col >= p.n {
        return;
    }
    var acc = 0.0;
    for (var k = 0u; k < p.k; k++) {
        acc += a[row * p.lda + k] * b[k * p.ldb + col];
    }
    c[row * p.ldc + col] = acc;
}
