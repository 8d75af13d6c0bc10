/*
 * accum_f64.h - compensated per-lane sums of doubles, built from the vd primitives of the including ISA
 * file (see kernels_template.h).  Included after those primitives.
 */

/* The rounding error of s = fl(a + b), exactly (Knuth's TwoSum; no ordering of |a|, |b| needed). */
static inline vd vd_twosum_err(vd a, vd b, vd s) {
    vd bv = vd_sub(s, a);
    return vd_add(vd_sub(a, vd_sub(s, bv)), vd_sub(b, bv));
}

/* A double-double per lane: the sum is hi + lo, with all rounding errors of the adds kept in lo. */
typedef struct {
    vd hi, lo;
} ad;

static inline ad ad_zero(void) {
    ad a = {vd_set1(0.0), vd_set1(0.0)};
    return a;
}

static inline ad ad_add(ad a, vd y) {
    vd t = vd_add(a.hi, y);
    a.lo = vd_add(a.lo, vd_twosum_err(a.hi, y, t));
    a.hi = t;
    return a;
}


static inline void ad_lanes(ad a, double *out) { vd_store(out, vd_add(a.hi, a.lo)); }

/* the lanes' high and low parts */
static inline void ad_parts(ad a, double *hi, double *lo) {
    vd_store(hi, a.hi);
    vd_store(lo, a.lo);
}

/* The total of an accumulator given by its lanes' parts (ad_parts): the lanes in order, compensated. */
static inline double ad_total_of(const double *hi, const double *lo) {
    double s = 0.0, c = 0.0;
    for (int l = 0; l < VD_W; l++) {
        double t = s + hi[l];
        double bv = t - s;
        c += ((s - (t - bv)) + (hi[l] - bv)) + lo[l];
        s = t;
    }
    return s + c;
}

static inline double ad_total(ad a) {
    double hi[VD_W], lo[VD_W];
    ad_parts(a, hi, lo);
    return ad_total_of(hi, lo);
}
