/* The kernel taps lo..hi along axis that land inside the input for output position o, and
 * (padded) the taps inside the input or its padding (pad_end after it). */
static void pool_taps(const Window *w, size_t axis, size_t o, size_t pad_end, size_t *lo, size_t *hi, size_t *padded)
{
    size_t start = o * w->strides[axis];
    size_t pad = w->pads[axis], len = w->input[axis], dil = w->dilations[axis], k = w->kernel[axis];
    size_t l = start >= pad ? 0 : (pad - start + dil - 1) / dil;
    size_t h = start >= pad + len ? 0 : (pad + len - start + dil - 1) / dil;
    size_t p = start >= pad + len + pad_end ? 0 : (pad + len + pad_end - start + dil - 1) / dil;
    if (l > k) {
        l = k;
    }
    if (h > k) {
        h = k;
    }
    *lo = l;
    *hi = h > l ? h : l;
    *padded = p < k ? p : k;
}
