/*
 * test_misc.c - the non-computing part of the API and a smoke test of the computing part; also built
 * against the static library (test_misc_static):
 *   version macros == fastsoftmax_version(); ISA names, ranking, compiled / available, set_max_isa and
 *   set_isa (fastsoftmax_isa() and fastsoftmax_last_isa() follow); thread count get / set; has_openmp;
 *   compiler; the exp diagnostics on every ISA; one call of each computing function.
 */
#include "capi_test.h"

#define STR2(x) #x
#define STR(x) STR2(x)

static void version_checks(void) {
    capi_set_context("version");
    const char *v = fastsoftmax_version();
    CHECK(v != NULL, "version() NULL");
    if (!v) return;
    CHECK(strcmp(v, FASTSOFTMAX_VERSION_STRING) == 0, "version() %s, macro %s", v, FASTSOFTMAX_VERSION_STRING);
    const char *parts = STR(FASTSOFTMAX_VERSION_MAJOR) "." STR(FASTSOFTMAX_VERSION_MINOR) "." STR(FASTSOFTMAX_VERSION_PATCH);
    CHECK(strcmp(v, parts) == 0, "version() %s, MAJOR.MINOR.PATCH %s", v, parts);
    int a = -1, b = -1, c = -1;
    CHECK(sscanf(v, "%d.%d.%d", &a, &b, &c) == 3, "version() %s not MAJOR.MINOR.PATCH", v);
    CHECK(a == FASTSOFTMAX_VERSION_MAJOR && b == FASTSOFTMAX_VERSION_MINOR && c == FASTSOFTMAX_VERSION_PATCH,
          "version() %s vs macros %d.%d.%d", v, FASTSOFTMAX_VERSION_MAJOR, FASTSOFTMAX_VERSION_MINOR,
          FASTSOFTMAX_VERSION_PATCH);
#ifdef FASTSOFTMAX_EXPECTED_VERSION /* the version CMake read from the header */
    CHECK(strcmp(v, FASTSOFTMAX_EXPECTED_VERSION) == 0, "version() %s, project version %s", v,
          FASTSOFTMAX_EXPECTED_VERSION);
#endif
    const char *cc = fastsoftmax_compiler();
    CHECK(cc && cc[0], "compiler() empty");
    int omp = fastsoftmax_has_openmp();
    CHECK(omp == 0 || omp >= 199810, "has_openmp() %d is not an _OPENMP date", omp);
}

static void isa_checks(void) {
    capi_set_context("isa");
    int n = isa_count();
    CHECK(n >= 1 && n <= 8, "%d ISAs", n);
    CHECK(fastsoftmax_isa_name(0) && strcmp(fastsoftmax_isa_name(0), "scalar") == 0, "ISA 0 is not scalar");
    CHECK(fastsoftmax_isa_name(-1) == NULL, "isa_name(-1) not NULL");
    CHECK(fastsoftmax_isa_name(n) == NULL, "isa_name(past the end) not NULL");
#if defined(__x86_64__) || defined(_M_X64)
    CHECK(n == 3 && strcmp(fastsoftmax_isa_name(1), "avx2") == 0 && strcmp(fastsoftmax_isa_name(2), "avx512") == 0,
          "x86-64 ISAs are not scalar, avx2, avx512");
#elif defined(__aarch64__) || defined(_M_ARM64)
    CHECK(n == 2 && strcmp(fastsoftmax_isa_name(1), "neon") == 0, "AArch64 ISAs are not scalar, neon");
#endif
    CHECK(fastsoftmax_isa_available("scalar") && fastsoftmax_isa_compiled("scalar"), "scalar not available");
    /* the default is the best available */
    CHECK(strcmp(fastsoftmax_isa(), best_isa()) == 0, "default ISA %s, best available %s", fastsoftmax_isa(),
          best_isa());
    printf("ISAs:");
    for (int i = 0; i < n; i++) {
        const char *name = fastsoftmax_isa_name(i);
        int av = fastsoftmax_isa_available(name), co = fastsoftmax_isa_compiled(name);
        printf(" %s%s", name, av ? "(available)" : co ? "(compiled, not supported here)" : "(not compiled)");
        CHECK(!av || co, "%s available but not compiled", name);
        /* set_max_isa(name): the best available ranked <= i */
        const char *want = "scalar";
        for (int k = 0; k <= i; k++)
            if (fastsoftmax_isa_available(fastsoftmax_isa_name(k))) want = fastsoftmax_isa_name(k);
        CHECK_STATUS(fastsoftmax_set_max_isa(name), FASTSOFTMAX_OK);
        CHECK(strcmp(fastsoftmax_isa(), want) == 0, "set_max_isa(%s): isa() %s, expected %s", name, fastsoftmax_isa(),
              want);
        float x[5] = {1, 2, 3, 4, 5}, y[5];
        CHECK_STATUS(fastsoftmax_softmax_rows_f32(x, y, 1, 5, 1), FASTSOFTMAX_OK);
        CHECK_LAST_ISA(want);
        if (av) {
            CHECK_STATUS(fastsoftmax_set_isa(name), FASTSOFTMAX_OK);
            CHECK(strcmp(fastsoftmax_isa(), name) == 0, "set_isa(%s): isa() %s", name, fastsoftmax_isa());
            double xd[3] = {0, 1, 2}, yd;
            CHECK_STATUS(fastsoftmax_logsumexp_rows_f64(xd, &yd, 1, 3, 1), FASTSOFTMAX_OK);
            CHECK_LAST_ISA(name);
        } else {
            CHECK_STATUS(fastsoftmax_set_isa(name), FASTSOFTMAX_EINVAL);
        }
    }
    printf("\n");
    restore_isa();
    CHECK(strcmp(fastsoftmax_isa(), best_isa()) == 0, "isa() %s after restore", fastsoftmax_isa());
}

static void thread_checks(void) {
    capi_set_context("threads");
    int nt = fastsoftmax_get_num_threads();
    CHECK(nt >= 1, "get_num_threads() %d", nt);
    if (!fastsoftmax_has_openmp()) CHECK(nt == 1, "serial build with %d threads", nt);
    CHECK_STATUS(fastsoftmax_set_num_threads(3), FASTSOFTMAX_OK);
    CHECK(fastsoftmax_get_num_threads() == 3, "get_num_threads() %d after set 3", fastsoftmax_get_num_threads());
    CHECK_STATUS(fastsoftmax_set_num_threads(1), FASTSOFTMAX_OK);
    CHECK(fastsoftmax_get_num_threads() == 1, "get_num_threads() %d after set 1", fastsoftmax_get_num_threads());
    CHECK_STATUS(fastsoftmax_set_num_threads(nt), FASTSOFTMAX_OK);
    CHECK(fastsoftmax_get_num_threads() == nt, "thread count not restored");
}

/* the exp diagnostics on every available ISA, on their documented domains */
static void exp_checks(void) {
    enum { N = 2003 };
    static float xf[N], yf[N];
    static double xd[N], yd[N];
    for (int i = 0; i < N; i++) {
        xf[i] = (float)(-87.33 * i / (N - 1));
        xd[i] = -708.39 * i / (N - 1);
    }
    xf[N - 1] = -87.33f;
    for (int ii = 0; ii < isa_count(); ii++) {
        if (!force_isa(ii)) continue;
        const char *isa = fastsoftmax_isa_name(ii);
        capi_set_context("exp isa=%s", isa);
        CHECK_STATUS(fastsoftmax_exp_f32(xf, yf, N), FASTSOFTMAX_OK);
        CHECK_LAST_ISA(isa);
        CHECK_STATUS(fastsoftmax_exp_f64(xd, yd, N), FASTSOFTMAX_OK);
        int bad = 0;
        for (int i = 0; i < N; i++) {
            long double rf = expl((long double)xf[i]), rd = expl((long double)xd[i]);
            capi_checks += 2;
            if (!within_bound(OP_SOFTMAX, F32, yf[i], rf) && bad++ < 3)
                capi_fail(__FILE__, __LINE__, "exp_f32(%.9g) = %.9g, reference %.12Lg", xf[i], yf[i], rf);
            if (!within_bound(OP_SOFTMAX, F64, yd[i], rd) && bad++ < 3)
                capi_fail(__FILE__, __LINE__, "exp_f64(%.17g) = %.17g, reference %.20Lg", xd[i], yd[i], rd);
        }
    }
    restore_isa();
}

/* each computing function once, plain values */
static void smoke(void) {
    capi_set_context("smoke");
    float x[2][4] = {{1, 2, 3, 4}, {0, 0, 0, 0}}, y[2][4], l[2];
    double xd[2][4] = {{1, 2, 3, 4}, {0, 0, 0, 0}}, yd[2][4], ld2[2];
    const ptrdiff_t s[3] = {4, 1, 1}, ls[3] = {1, 1, 1};
    CHECK_STATUS(fastsoftmax_softmax_f32(&x[0][0], &y[0][0], 2, 4, 1, s, s, 0), FASTSOFTMAX_OK);
    CHECK(fabsf(y[1][2] - 0.25f) < 1e-7f && fabsf(y[0][0] + y[0][1] + y[0][2] + y[0][3] - 1) < 1e-6f, "softmax_f32");
    CHECK_STATUS(fastsoftmax_log_softmax_f32(&x[0][0], &y[0][0], 2, 4, 1, s, s, 0), FASTSOFTMAX_OK);
    CHECK(fabsf(y[1][0] + logf(4)) < 1e-6f, "log_softmax_f32");
    CHECK_STATUS(fastsoftmax_logsumexp_f32(&x[0][0], l, 2, 4, 1, s, ls, 0), FASTSOFTMAX_OK);
    CHECK(fabsf(l[1] - logf(4)) < 1e-6f, "logsumexp_f32");
    CHECK_STATUS(fastsoftmax_softmax_f64(&xd[0][0], &yd[0][0], 2, 4, 1, s, s, 0), FASTSOFTMAX_OK);
    CHECK(fabs(yd[1][3] - 0.25) < 1e-15, "softmax_f64");
    CHECK_STATUS(fastsoftmax_log_softmax_f64(&xd[0][0], &yd[0][0], 2, 4, 1, s, s, 0), FASTSOFTMAX_OK);
    CHECK(fabs(yd[1][1] + log(4)) < 1e-15, "log_softmax_f64");
    CHECK_STATUS(fastsoftmax_logsumexp_f64(&xd[0][0], ld2, 2, 4, 1, s, ls, 0), FASTSOFTMAX_OK);
    CHECK(fabs(ld2[1] - log(4)) < 1e-15, "logsumexp_f64");
    CHECK_STATUS(fastsoftmax_softmax_rows_f32(&x[0][0], &y[0][0], 2, 4, 0), FASTSOFTMAX_OK);
    CHECK_STATUS(fastsoftmax_log_softmax_rows_f32(&x[0][0], &y[0][0], 2, 4, 0), FASTSOFTMAX_OK);
    CHECK_STATUS(fastsoftmax_logsumexp_rows_f32(&x[0][0], l, 2, 4, 0), FASTSOFTMAX_OK);
    CHECK(fabsf(l[1] - logf(4)) < 1e-6f, "logsumexp_rows_f32");
    CHECK_STATUS(fastsoftmax_softmax_rows_f64(&xd[0][0], &yd[0][0], 2, 4, 0), FASTSOFTMAX_OK);
    CHECK_STATUS(fastsoftmax_log_softmax_rows_f64(&xd[0][0], &yd[0][0], 2, 4, 0), FASTSOFTMAX_OK);
    CHECK_STATUS(fastsoftmax_logsumexp_rows_f64(&xd[0][0], ld2, 2, 4, 0), FASTSOFTMAX_OK);
    CHECK(fabs(ld2[1] - log(4)) < 1e-15, "logsumexp_rows_f64");
    int64_t tg[2] = {3, 0};
    const ptrdiff_t ts[2] = {1, 1}, lss[2] = {1, 1};
    CHECK_STATUS(fastsoftmax_cross_entropy_f32(&x[0][0], tg, l, 2, 4, 1, s, ts, lss, -100, NULL, 0), FASTSOFTMAX_OK);
    CHECK(fabsf(l[1] - logf(4)) < 1e-6f, "cross_entropy_f32");
    CHECK_STATUS(fastsoftmax_cross_entropy_f64(&xd[0][0], tg, ld2, 2, 4, 1, s, ts, lss, -100, NULL, 0), FASTSOFTMAX_OK);
    CHECK(fabs(ld2[1] - log(4)) < 1e-15, "cross_entropy_f64");
    CHECK_STATUS(fastsoftmax_cross_entropy_rows_f32(&x[0][0], tg, l, 2, 4, FASTSOFTMAX_NO_IGNORE, NULL, 0),
                 FASTSOFTMAX_OK);
    CHECK_STATUS(fastsoftmax_cross_entropy_rows_f64(&xd[0][0], tg, ld2, 2, 4, FASTSOFTMAX_NO_IGNORE, NULL, 0),
                 FASTSOFTMAX_OK);
    CHECK(fabs(ld2[0] - (log(exp(-3.0) + exp(-2.0) + exp(-1.0) + 1.0))) < 1e-15, "cross_entropy_rows_f64");
}

int main(void) {
    version_checks();
    isa_checks();
    thread_checks();
    exp_checks();
    smoke();
    return capi_report("test_misc");
}
