// Lesson step 0 — memory bandwidth.
//
// Every invocation copies 16 bytes (one vec4<f32>) per loop trip: wide loads let the memory system
// move whole cache lines with few instructions. A grid-stride loop lets a fixed number of workgroups
// cover any buffer size (the dispatch size is capped by maxComputeWorkgroupsPerDimension).
// Bytes moved per element: 16 read + 16 written, so GB/s = 32 · n / seconds / 1e9.

struct Params {
    // Number of vec4<f32> elements to copy.
    n: u32,
    // Total invocations in the dispatch (the loop's step).
    stride: u32,
    _pad0: u32,
    _pad1: u32,
}

@group(0) @binding(0) var<storage, read> src: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read_write> dst: array<vec4<f32>>;
@group(0) @binding(2) var<uniform> params: Params;

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
    var i = gid.x;
    loop {
        if i >= params.n {
            break;
        }
        dst[i] = src[i];
        i += params.stride;
    }
}
