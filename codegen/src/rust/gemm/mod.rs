//! The register-blocked GEMM micro-kernels, printed for the program's [`Tiling`].
//!
//! They are generated rather than written generically over the tile shape because LLVM
//! only keeps the accumulators in registers when each one is a variable of its own: with
//! an accumulator array indexed in loops (even fully unrollable ones), its loop vectoriser
//! vectorised the reduction loop instead, with gathers, and the kernel ran at 1-2 GFLOP/s
//! instead of 130-190 (measured on x86-64 with AVX-512, see ARCHITECTURE.md). Each `Lanes`
//! variable is one vector register; the loop over `k` holds only straight-line code.
//!
//! Two operand orders: `gemm_a` reads its left operand (`m x k`, e.g. convolution weights)
//! packed in row panels and the right one (`k x n`, e.g. an activation) as rows `ldb`
//! apart; `gemm_b` reads its left operand (an activation) as rows `lda` apart and the
//! right one (Gemm or MatMul weights) packed in column panels. Both sum each output over
//! `k` in order, from the row's initial value, with a multiply and an add per term (stable
//! `no_std` Rust has no fused multiply-add): the reference semantics' order. With
//! [`Tiling::fused`] (`--fma`) each term is one `f32::mul_add` instead, from `std`.

mod conv;
mod drivers;
mod split;
mod tiles;

use crate::kernels::{GemmFn, Tiling};
use conv::*;
use drivers::*;
use split::*;
use std::fmt::Write;
use tiles::*;

/// The Rust text of the micro-kernels and drivers in `fns`, all for `t`.
///
/// `bytes`: the packed weights are the weights file's `[u8; 4]` words (see
/// `weights::byte_statics`), else `f32`s; the kernels read each through `wt`, which is the
/// identity or `from_le_bytes` (on x86-64 and AArch64 the same load instruction).
pub(crate) fn render(t: Tiling, fns: &[GemmFn], bytes: bool) -> String {
    let l = t.lanes;
    let mut s = String::new();
    // Whether any of `fns` is a micro-kernel, or `other`.
    let uses = |other: &dyn Fn(&GemmFn) -> bool| {
        fns.iter().any(|f| {
            other(f)
                || matches!(
                    f,
                    GemmFn::TileA { .. }
                        | GemmFn::TileB { .. }
                        | GemmFn::TileC { .. }
                        | GemmFn::TileT { .. }
                        | GemmFn::TileS { .. }
                )
        })
    };
    let tiles = uses(&|f| matches!(f, GemmFn::Depthwise));
    if t.fused {
        s.push_str(
            "// Fused multiply-add kernels (`--fma`): `f32::mul_add` is in `std`, not `core`.
extern crate std;

",
        );
    }
    // Every kernel that reads packed weights (all but the one-channel depthwise).
    if uses(&|f| matches!(f, GemmFn::DepthwiseLanes)) {
        s.push_str(weight_type(bytes));
        s.push_str("\n\n");
    }
    // Depthwise convolutions alone need no micro-kernel, so no `Lanes`.
    if tiles {
        let _ = write!(
            s,
            "/// The f32 lanes of one vector register of the target ({bytes} bytes): the GEMM
/// micro-kernels keep each accumulator in a variable of this type, held in one register.
type Lanes = [f32; {l}];
{lanes_load}
/// `c + a * b`, lane by lane{fused_doc}.
#[inline(always)]
fn lanes_mul_add(c: Lanes, a: f32, b: Lanes) -> Lanes {{
    let mut r = c;
    for i in 0..{l} {{
        r[i] = {mul_add};
    }}
    r
}}
",
            bytes = l * 4,
            lanes_load = if fns.iter().any(|f| {
                matches!(
                    f,
                    GemmFn::TileA { .. }
                        | GemmFn::TileC { .. }
                        | GemmFn::TileT { .. }
                        | GemmFn::TileS { .. }
                        | GemmFn::Depthwise
                        | GemmFn::Winograd
                )
            }) {
                LANES_LOAD.replace("{l}", &l.to_string())
            } else {
                String::new()
            },
            fused_doc = if t.fused { ", in one rounding" } else { "" },
            mul_add = if t.fused {
                "a.mul_add(b[i], c[i])"
            } else {
                "c[i] + a * b[i]"
            },
        );
    }
    // The tiles whose vector operand is the weights.
    if fns.iter().any(|f| {
        matches!(
            f,
            GemmFn::TileB { .. } | GemmFn::TileT { .. } | GemmFn::TileS { .. }
        )
    }) {
        let _ = write!(
            s,
            "
/// `lanes_load` of weights.
#[inline(always)]
fn lanes_load_w(v: &[Wt], at: usize) -> Lanes {{
    let mut r = [0.0; {l}];
    if let Some(v) = v.get(at..at + {l}) {{
        for (o, &x) in r.iter_mut().zip(v) {{
            *o = wt(x);
        }}
    }}
    r
}}
"
        );
    }
    // The transposed tile stores lane by lane; the others a run of each row.
    let runs = fns.iter().any(|f| {
        matches!(
            f,
            GemmFn::TileA { .. } | GemmFn::TileB { .. } | GemmFn::TileC { .. }
        )
    });
    // `v * 1` is clippy's identity_op in a user's crate (one lane: a Cortex-M's scalar).
    let at_v = if l == 1 {
        "v".to_string()
    } else {
        format!("v * {l}")
    };
    if runs {
        let _ = write!(
            s,
            "
/// Stores the first `cols` lanes of `row` at the start of `c`.
#[inline(always)]
fn lanes_store<const N: usize>(c: &mut [f32], row: &[Lanes; N], cols: usize) {{
    for (v, x) in row.iter().enumerate() {{
        let lo = {at_v};
        if lo >= cols {{
            break;
        }}
        let n = (cols - lo).min({l});
        // `get`: in bounds by construction, and no panic path (see conv_rows4).
        if let Some(d) = c.get_mut(lo..lo + n) {{
            d.copy_from_slice(&x[..n]);
        }}
    }}
}}
"
        );
        // Used by the GEMM tiles' whole-tile stores (see `store`).
        let whole = fns
            .iter()
            .any(|f| matches!(f, GemmFn::TileA { .. } | GemmFn::TileB { .. }));
        if whole && whole_tile_stores(t) {
            let _ = write!(
                s,
                "
/// Stores `row` whole at the start of `c`: a vector store each, no length to test.
#[inline(always)]
fn lanes_store_full<const N: usize>(c: &mut [f32], row: &[Lanes; N]) {{
    for (v, x) in row.iter().enumerate() {{
        if let Some(d) = c.get_mut({at_v}..).and_then(|d| d.first_chunk_mut::<{l}>()) {{
            *d = *x;
        }}
    }}
}}
"
            );
        }
    }
    for f in fns {
        s.push('\n');
        match *f {
            GemmFn::TileA { mr, nv } => tile_a(&mut s, l, mr, nv, whole_tile_stores(t)),
            GemmFn::TileB { mr, nv } => tile_b(&mut s, l, mr, nv, whole_tile_stores(t)),
            GemmFn::TileC { mr, nv } => tile_c(&mut s, l, mr, nv),
            GemmFn::TileT { mr, nv } => tile_t(&mut s, l, mr, nv),
            GemmFn::TileS { nv } => tile_s(&mut s, l, nv),
            GemmFn::ConvSplitT => conv_split_t(&mut s, t),
            GemmFn::PointwiseT => pointwise_t(&mut s, t, !fns.contains(&GemmFn::Pointwise)),
            GemmFn::SplitParams => s.push_str(SPLIT_PARAMS),
            GemmFn::PadSplit => {
                // `copy_run` goes with it: `store_wide` and `conv_depthwise` come with it too.
                s.push_str(PAD_SPLIT);
                copy_run(&mut s, l);
            }
            GemmFn::StoreWide => store_wide(&mut s, t),
            GemmFn::ConvScratch { nv } => conv_split(&mut s, t, nv),
            GemmFn::Depthwise => depthwise(&mut s, t),
            GemmFn::DepthwiseLanes => depthwise_lanes(&mut s, t),
            GemmFn::ConvRows => conv_rows(&mut s, t),
            GemmFn::Winograd => winograd(&mut s, t),
            GemmFn::DriverA => driver_a(&mut s, t),
            GemmFn::DriverB => driver_b(&mut s, t),
            GemmFn::Pointwise => {
                s.push_str(POINTWISE_PARAMS);
                s.push_str(POINTWISE);
            }
            GemmFn::GemmB => s.push_str(GEMM_B),
            GemmFn::MatMulB => s.push_str(MATMUL_B),
        }
    }
    s
}

/// The entry points and the head of a driver's body, which is generic over its epilogue
/// `E`: `fn {name}` instantiates the body for the call site's closure (constants of the
/// call propagated into its loops), `fn {name}_dyn` for `dyn Fn`, one copy shared by every
/// call that takes it. The printer calls `_dyn` for steps of at least
/// `rust::SHARED_BODY_MACS` (see there). Returns the body's line open (its body follows).
/// Either entry point may go unused in a program, hence `dead_code` allowed on both.
fn shared_head(name: &str, generics: &str, params: &str, args: &str) -> String {
    let consts = generics.trim_start_matches('<').trim_end_matches('>');
    let (body_generics, dyn_args) = if consts.is_empty() {
        (
            "<E: Fn(usize, &mut [f32]) + ?Sized>".to_string(),
            String::new(),
        )
    } else {
        (
            format!("<{consts}, E: Fn(usize, &mut [f32]) + ?Sized>"),
            "T, ".to_string(),
        )
    };
    format!(
        "#[inline(always)]
#[allow(clippy::too_many_arguments, dead_code)]
fn {name}{generics}({params}, epi: impl Fn(usize, &mut [f32])) {{
    {name}_body({args}, &epi)
}}

/// `{name}` with its body shared by every call that takes this entry point.
#[inline(always)]
#[allow(clippy::too_many_arguments, dead_code)]
fn {name}_dyn{generics}({params}, epi: impl Fn(usize, &mut [f32])) {{
    {name}_body::<{dyn_args}dyn Fn(usize, &mut [f32])>({args}, &epi)
}}

#[allow(clippy::too_many_arguments)]
fn {name}_body{body_generics}({params}, epi: &E) {{"
    )
}

/// The packed weights' element type `Wt` and `wt`, its value as an f32.
fn weight_type(bytes: bool) -> &'static str {
    if bytes {
        "/// A packed weight: the four little-endian bytes of an f32 in the weights file.
type Wt = [u8; 4];

#[inline(always)]
fn wt(w: Wt) -> f32 {
    f32::from_le_bytes(w)
}"
    } else {
        "/// A packed weight (an f32 of a static array).
type Wt = f32;

#[inline(always)]
fn wt(w: Wt) -> f32 {
    w
}"
    }
}

/// A vector of f32 operands: all kernels' but `gemm_tile_b`'s, whose vectors are weights.
const LANES_LOAD: &str = "
#[inline(always)]
fn lanes_load(v: &[f32], at: usize) -> Lanes {
    let mut r = [0.0; {l}];
    // `get`: in bounds by construction, and no panic path (see conv_rows4).
    if let Some(v) = v.get(at..at + {l}) {
        r.copy_from_slice(v);
    }
    r
}
";
