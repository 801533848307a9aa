// Lesson step 2 — coalescing: the same arithmetic as the naive kernel, with x and y swapped.
//
// Now consecutive invocations (one warp / subgroup) compute consecutive columns of one row:
// they read the same A element (a broadcast) and neighbouring B elements, and write neighbouring
// C elements. The hardware merges those neighbouring accesses into a few wide transactions.
// Nothing else changed — no extra reuse — so this only fixes *how* memory is read, not *how much*.

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
    let col = gid.x;
    let row = gid.y;
    if row >= p.m || col >= p.n {
        return;
    }
    var acc = 0.0;
    for (var k = 0u; k < p.k; k++) {
        acc += a[row * p.lda + k] * b[k * p.ldb + col];
    }
    c[row * p.ldc + col] = acc;
}
