/*
 * classifier.c - the last layer of a classifier with fastsoftmax: logits = W x + b for a batch of
 * inputs (10 classes, 16 features, 8 samples, fixed deterministic weights and inputs), then a softmax
 * over each row of logits with fastsoftmax_softmax_rows_f32, and the most likely class per sample.
 *
 *   cc classifier.c $(pkg-config --cflags --libs fastsoftmax) -o classifier && ./classifier
 */
#include <math.h>
#include <stdio.h>

#include "fastsoftmax.h"

enum { CLASSES = 10, FEATURES = 16, BATCH = 8 };

/* a small deterministic "trained" layer: smooth values from integer hashing, no RNG, no libm */
static float weight(int c, int f) {
    unsigned h = (unsigned)(c * 131 + f * 31 + 7) * 2654435761u;
    return ((float)(h >> 16) / 65536.0f - 0.5f) * 1.5f; /* in [-0.75, 0.75) */
}
static float bias(int c) { return 0.1f * (float)(c % 3) - 0.1f; }
static float feature(int s, int f) {
    unsigned h = (unsigned)(s * 977 + f * 13 + 3) * 2246822519u;
    return ((float)(h >> 16) / 65536.0f) * 2.0f - 1.0f + (f == s % FEATURES ? 3.0f : 0.0f);
}

int main(void) {
    static float W[CLASSES][FEATURES], b[CLASSES], X[BATCH][FEATURES];
    static float logits[BATCH][CLASSES], probs[BATCH][CLASSES];
    for (int c = 0; c < CLASSES; c++) {
        b[c] = bias(c);
        for (int f = 0; f < FEATURES; f++) W[c][f] = weight(c, f);
    }
    for (int s = 0; s < BATCH; s++)
        for (int f = 0; f < FEATURES; f++) X[s][f] = feature(s, f);

    /* logits[s][c] = sum_f W[c][f] * X[s][f] + b[c] */
    for (int s = 0; s < BATCH; s++)
        for (int c = 0; c < CLASSES; c++) {
            float acc = b[c];
            for (int f = 0; f < FEATURES; f++) acc += W[c][f] * X[s][f];
            logits[s][c] = acc;
        }

    /* one softmax per row; nthreads 0: the library default (a problem this small runs serially) */
    int status = fastsoftmax_softmax_rows_f32(&logits[0][0], &probs[0][0], BATCH, CLASSES, 0);
    if (status != FASTSOFTMAX_OK) {
        fprintf(stderr, "fastsoftmax_softmax_rows_f32 failed: status %d\n", status);
        return 1;
    }

    printf("fastsoftmax %s, ISA %s\n", fastsoftmax_version(), fastsoftmax_last_isa());
    int ok = 1;
    for (int s = 0; s < BATCH; s++) {
        int best = 0;
        double sum = 0.0;
        for (int c = 0; c < CLASSES; c++) {
            sum += probs[s][c];
            if (probs[s][c] > probs[s][best]) best = c;
        }
        printf("sample %d: class %d  p=%.4f\n", s, best, probs[s][best]);
        if (fabs(sum - 1.0) > 1e-5) {
            fprintf(stderr, "sample %d: probabilities sum to %.9f\n", s, sum);
            ok = 0;
        }
    }
    return ok ? 0 : 1;
}
