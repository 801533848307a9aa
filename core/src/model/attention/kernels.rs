//! FlashAttention-2's three kernels in CubeCL: one source that compiles to CUDA and to WGSL.
//!
//! Layout: every tensor is contiguous; Q, K, V, O, dO and the gradients are `[bh, t, head]`
//! (batch × heads flattened), the row statistics `lse` and `delta` are `[bh, t]`. A cube handles
//! one tile of rows of one (batch, head) pair: `CUBE_POS_Y` is the pair, `CUBE_POS_X` the tile.
//!
//! Each unit owns one row (a query in the forward and dQ kernels, a key in the dK/dV kernel) and
//! keeps that row's vectors in registers (`Array`s sized by the comptime head size); the other
//! side streams through shared memory one tile at a time, loaded by the whole cube. Nothing of
//! size t × t is ever written: the forward keeps the online softmax's running max and sum, and
//! saves only the row's log-sum-exp; the backward recomputes each probability from Q, K and it.
//! Accumulation is f32. Rows past `t` (the ragged last tile) load zeros and write nothing.
//!
//! Masked values use a large finite negative number, not −∞: WGSL may not represent an infinity
//! literal (and `exp` of it is 0 either way).

use cubecl::prelude::*;

/// The running max before any key is seen: below every real score, finite for WGSL.
const NEG_BIG: f32 = -1.0e30;

/// The number of keys of tile `k0..` a row may see: all the tile's keys that exist (`< t`) and,
/// when `causal`, are at or before `row`.
#[cube]
fn visible_keys(row: usize, k0: usize, t: usize, #[comptime] tile: usize, #[comptime] causal: bool) -> usize {
    let mut n = t - k0;
    if n > tile {
        n = tile;
    }
    if causal {
        if row < k0 {
            n = 0;
        } else if row + 1 - k0 < n {
            n = row + 1 - k0;
        }
    }
    n
}

/// Copies rows `r0 .. r0 + tile` of `src` (one `[t, head]` slab at `base`) into `dst`, zeros past
/// `t`. Every unit of the cube takes part; the caller syncs.
#[cube]
fn load_tile<F: Float>(
    src: &Tensor<F>,
    dst: &mut SharedMemory<F>,
    base: usize,
    r0: usize,
    t: usize,
    #[comptime] tile: usize,
    #[comptime] head: usize,
) {
    let mut i = UNIT_POS_X as usize;
    while i < tile * head {
        let r = r0 + i / head;
        let mut x = F::new(0.0);
        if r < t {
            x = src[base + r * head + i % head];
        }
        dst[i] = x;
        i += CUBE_DIM_X as usize;
    }
}

/// The forward: O = softmax(Q·Kᵀ/√head, causal) · V and each row's log-sum-exp.
///
/// Launch: `CubeCount(ceil(t / CUBE_DIM_X), bh)`, one unit per query row; `tile` keys per step.
#[cube(launch)]
pub fn flash_forward_kernel<F: Float>(
    q: &Tensor<F>,
    k: &Tensor<F>,
    v: &Tensor<F>,
    out: &mut Tensor<F>,
    lse: &mut Tensor<F>,
    seq: u32,
    #[comptime] head: usize,
    #[comptime] tile: usize,
    #[comptime] causal: bool,
    #[define(F)] _dtype: StorageType,
) {
    let t = seq as usize;
    let bh = CUBE_POS_Y as usize;
    let q0 = CUBE_POS_X as usize * CUBE_DIM_X as usize;
    let row = q0 + UNIT_POS_X as usize;
    let active = row < t;
    let base = bh * t * head;
    let scale = F::new(1.0) / F::sqrt(F::cast_from(head as u32));

    let mut q_row = Array::<F>::new(head);
    let mut acc = Array::<F>::new(head);
    let mut scores = Array::<F>::new(tile);
    #[unroll]
    for c in 0..head {
        acc[c] = F::new(0.0);
        let mut x = F::new(0.0);
        if active {
            x = q[base + row * head + c] * scale;
        }
        q_row[c] = x;
    }
    let mut k_tile = SharedMemory::<F>::new(tile * head);
    let mut v_tile = SharedMemory::<F>::new(tile * head);
    let mut running_max = F::new(NEG_BIG);
    let mut running_sum = F::new(0.0);

    // Causal: key tiles wholly after this cube's last query are never loaded.
    let mut kv_end = t;
    let q_end = q0 + CUBE_DIM_X as usize;
    if causal && q_end < t {
        kv_end = q_end;
    }
    let tiles = kv_end.div_ceil(tile);
    for kt in 0..tiles {
        let k0 = kt * tile;
        load_tile::<F>(k, &mut k_tile, base, k0, t, tile, head);
        load_tile::<F>(v, &mut v_tile, base, k0, t, tile, head);
        sync_cube();
        if active {
            let n = visible_keys(row, k0, t, tile, causal);
            let mut tile_max = running_max;
            for j in 0..n {
                let mut s = F::new(0.0);
                #[unroll]
                for c in 0..head {
                    s += q_row[c] * k_tile[j * head + c];
                }
                scores[j] = s;
                tile_max = F::max(tile_max, s);
            }
            // Online softmax: rescale what was summed under the old max.
            let correction = F::exp(running_max - tile_max);
            running_sum *= correction;
            #[unroll]
            for c in 0..head {
                acc[c] *= correction;
            }
            running_max = tile_max;
            for j in 0..n {
                let p = F::exp(scores[j] - running_max);
                running_sum += p;
                #[unroll]
                for c in 0..head {
                    acc[c] += p * v_tile[j * head + c];
                }
            }
        }
        sync_cube();
    }
    if active {
        let inv = F::new(1.0) / running_sum;
        #[unroll]
        for c in 0..head {
            out[base + row * head + c] = acc[c] * inv;
        }
        lse[bh * t + row] = running_max + F::ln(running_sum);
    }
}

/// The backward's dQ: for each query row, dQ = Σ_j dS_ij · K_j / √head with
/// P = exp(Q·Kᵀ/√head − lse) and dS = P ∘ (dO·Vᵀ − delta), delta = rowsum(dO ∘ O).
///
/// Launch: like the forward (one unit per query row, key tiles streamed).
#[cube(launch)]
pub fn flash_backward_dq_kernel<F: Float>(
    q: &Tensor<F>,
    k: &Tensor<F>,
    v: &Tensor<F>,
    d_out: &Tensor<F>,
    lse: &Tensor<F>,
    delta: &Tensor<F>,
    dq: &mut Tensor<F>,
    seq: u32,
    #[comptime] head: usize,
    #[comptime] tile: usize,
    #[comptime] causal: bool,
    #[define(F)] _dtype: StorageType,
) {
    let t = seq as usize;
    let bh = CUBE_POS_Y as usize;
    let q0 = CUBE_POS_X as usize * CUBE_DIM_X as usize;
    let row = q0 + UNIT_POS_X as usize;
    let active = row < t;
    let base = bh * t * head;
    let scale = F::new(1.0) / F::sqrt(F::cast_from(head as u32));

    let mut q_row = Array::<F>::new(head);
    let mut do_row = Array::<F>::new(head);
    let mut acc = Array::<F>::new(head);
    let mut row_lse = F::new(0.0);
    let mut row_delta = F::new(0.0);
    #[unroll]
    for c in 0..head {
        acc[c] = F::new(0.0);
        let mut x = F::new(0.0);
        let mut g = F::new(0.0);
        if active {
            x = q[base + row * head + c] * scale;
            g = d_out[base + row * head + c];
        }
        q_row[c] = x;
        do_row[c] = g;
    }
    if active {
        row_lse = lse[bh * t + row];
        row_delta = delta[bh * t + row];
    }
    let mut k_tile = SharedMemory::<F>::new(tile * head);
    let mut v_tile = SharedMemory::<F>::new(tile * head);

    let mut kv_end = t;
    let q_end = q0 + CUBE_DIM_X as usize;
    if causal && q_end < t {
        kv_end = q_end;
    }
    let tiles = kv_end.div_ceil(tile);
    for kt in 0..tiles {
        let k0 = kt * tile;
        load_tile::<F>(k, &mut k_tile, base, k0, t, tile, head);
        load_tile::<F>(v, &mut v_tile, base, k0, t, tile, head);
        sync_cube();
        if active {
            let n = visible_keys(row, k0, t, tile, causal);
            for j in 0..n {
                let mut s = F::new(0.0);
                let mut dp = F::new(0.0);
                #[unroll]
                for c in 0..head {
                    s += q_row[c] * k_tile[j * head + c];
                    dp += do_row[c] * v_tile[j * head + c];
                }
                let p = F::exp(s - row_lse);
                let ds = p * (dp - row_delta);
                #[unroll]
                for c in 0..head {
                    acc[c] += ds * k_tile[j * head + c];
                }
            }
        }
        sync_cube();
    }
    if active {
        #[unroll]
        for c in 0..head {
            dq[base + row * head + c] = acc[c] * scale;
        }
    }
}

/// The backward's dK and dV: for each key row j, dV_j = Σ_i P_ij · dO_i and
/// dK_j = Σ_i dS_ij · Q_i / √head, over the queries that see it (i ≥ j when causal).
///
/// Launch: `CubeCount(ceil(t / CUBE_DIM_X), bh)`, one unit per key row; `tile` queries per step.
#[cube(launch)]
pub fn flash_backward_dkdv_kernel<F: Float>(
    q: &Tensor<F>,
    k: &Tensor<F>,
    v: &Tensor<F>,
    d_out: &Tensor<F>,
    lse: &Tensor<F>,
    delta: &Tensor<F>,
    dk: &mut Tensor<F>,
    dv: &mut Tensor<F>,
    seq: u32,
    #[comptime] head: usize,
    #[comptime] tile: usize,
    #[comptime] causal: bool,
    #[define(F)] _dtype: StorageType,
) {
    let t = seq as usize;
    let bh = CUBE_POS_Y as usize;
    let k_first = CUBE_POS_X as usize * CUBE_DIM_X as usize;
    let key = k_first + UNIT_POS_X as usize;
    let active = key < t;
    let base = bh * t * head;
    let scale = F::new(1.0) / F::sqrt(F::cast_from(head as u32));

    let mut k_row = Array::<F>::new(head);
    let mut v_row = Array::<F>::new(head);
    let mut dk_acc = Array::<F>::new(head);
    let mut dv_acc = Array::<F>::new(head);
    #[unroll]
    for c in 0..head {
        dk_acc[c] = F::new(0.0);
        dv_acc[c] = F::new(0.0);
        let mut kx = F::new(0.0);
        let mut vx = F::new(0.0);
        if active {
            kx = k[base + key * head + c] * scale;
            vx = v[base + key * head + c];
        }
        k_row[c] = kx;
        v_row[c] = vx;
    }
    let mut q_tile = SharedMemory::<F>::new(tile * head);
    let mut do_tile = SharedMemory::<F>::new(tile * head);

    // Causal: query tiles wholly before this cube's first key never see it.
    let mut first = 0;
    if causal {
        first = k_first / tile;
    }
    let tiles = t.div_ceil(tile);
    for qt in first..tiles {
        let q0 = qt * tile;
        load_tile::<F>(q, &mut q_tile, base, q0, t, tile, head);
        load_tile::<F>(d_out, &mut do_tile, base, q0, t, tile, head);
        sync_cube();
        if active {
            let mut end = t - q0;
            if end > tile {
                end = tile;
            }
            let mut start = 0;
            if causal && key > q0 {
                start = key - q0;
            }
            for i in start..end {
                let mut s = F::new(0.0);
                let mut dp = F::new(0.0);
                #[unroll]
                for c in 0..head {
                    s += q_tile[i * head + c] * k_row[c];
                    dp += do_tile[i * head + c] * v_row[c];
                }
                let p = F::exp(s - lse[bh * t + q0 + i]);
                let ds = p * (dp - delta[bh * t + q0 + i]);
                #[unroll]
                for c in 0..head {
                    dv_acc[c] += p * do_tile[i * head + c];
                    dk_acc[c] += ds * q_tile[i * head + c];
                }
            }
        }
        sync_cube();
    }
    if active {
        #[unroll]
        for c in 0..head {
            dk[base + key * head + c] = dk_acc[c] * scale;
            dv[base + key * head + c] = dv_acc[c];
        }
    }
}
