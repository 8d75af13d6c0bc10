/* pkgconfig_smoke.c - built by tests/capi/run_all.sh with `pkg-config --cflags --libs fastsoftmax`
 * against an installed copy: one softmax, one logsumexp and one cross-entropy through the C API. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include <fastsoftmax.h>

int main(void) {
    const float x[2][3] = {{1.0f, 2.0f, 3.0f}, {0.0f, 0.0f, 0.0f}};
    float p[2][3], lse[2], loss[2];
    const int64_t target[2] = {2, 0};
    if (strcmp(fastsoftmax_version(), FASTSOFTMAX_VERSION_STRING) != 0) {
        fprintf(stderr, "header %s, library %s\n", FASTSOFTMAX_VERSION_STRING, fastsoftmax_version());
        return 1;
    }
    if (fastsoftmax_softmax_rows_f32(&x[0][0], &p[0][0], 2, 3, 0) != FASTSOFTMAX_OK ||
        fastsoftmax_logsumexp_rows_f32(&x[0][0], lse, 2, 3, 0) != FASTSOFTMAX_OK ||
        fastsoftmax_cross_entropy_rows_f32(&x[0][0], target, loss, 2, 3, -100, NULL, 0) != FASTSOFTMAX_OK) {
        fprintf(stderr, "a call failed\n");
        return 1;
    }
    double want = log(exp(1.0) + exp(2.0) + exp(3.0));
    int ok = fabs(p[1][1] - 1.0 / 3.0) < 1e-6 && fabs(lse[0] - want) < 1e-5 && fabs(loss[0] - (want - 3.0)) < 1e-5 &&
             fabs(loss[1] - log(3.0)) < 1e-6;
    printf("fastsoftmax %s via pkg-config: softmax %.6f %.6f %.6f, logsumexp %.6f, cross-entropy %.6f (ISA %s) %s\n",
           fastsoftmax_version(), p[0][0], p[0][1], p[0][2], lse[0], loss[0], fastsoftmax_last_isa(),
           ok ? "ok" : "WRONG");
    return ok ? 0 : 1;
}
