/// One tile of the quad kernels: [`quad_tile_safe`] (compile with `--intrinsics` for
/// x86's VNNI instructions where the target has them).
#[allow(dead_code)]
#[inline(always)]
fn quad_tile<const R: usize, const P: usize>(rows: &[u32], ko: &[usize; QUAD_KH], g: [usize; 5], w: &[i8], acc: &mut [[i32; 16]; 16]) {
    quad_tile_safe::<R, P>(rows, ko, g, w, acc);
}

/// One tile of the wide-row quad kernel: [`quad_row_tile_safe`].
#[allow(dead_code)]
#[inline(always)]
fn quad_row_tile<const MR: usize, const NV: usize>(rows: &[u32], ko: &[usize; QUAD_KH], g: [usize; 7], w: &[i8], acc: &mut [[[i32; 16]; 2]; 16]) {
    quad_row_tile_safe::<MR, NV>(rows, ko, g, w, acc);
}

/// A fused output table over u8 outputs, in place: [`quad_lut_safe`].
#[allow(dead_code)]
#[inline(always)]
fn quad_lut(y: &mut [u8], table: &[u8]) {
    quad_lut_safe(y, table);
}

