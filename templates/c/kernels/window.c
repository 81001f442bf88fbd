/* Sliding-window geometry over three spatial axes; 1-D and 2-D ops lead with unit axes.
 * pads are the padding before each axis. Each array has three entries. */
typedef struct {
    const size_t *input; size_t input_len;
    const size_t *output; size_t output_len;
    const size_t *kernel; size_t kernel_len;
    const size_t *strides; size_t strides_len;
    const size_t *dilations; size_t dilations_len;
    const size_t *pads; size_t pads_len;
} Window;
