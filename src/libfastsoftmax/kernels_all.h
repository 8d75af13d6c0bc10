/*
 * kernels_all.h - included once at the end of each ISA file, after its vector primitives: instantiates
 * kernels_template.h for float and for double and defines the ISA's kernel table FSS_TABLE, named
 * FSS_ISA_NAME.
 */
#define FSS_TPL_F32 1
#include "kernels_template.h"
#undef FSS_TPL_F32
#define FSS_TPL_F32 0
#include "kernels_template.h"
#undef FSS_TPL_F32

const fss_kernels FSS_TABLE = {
    .name = FSS_ISA_NAME,
    .softmax_f32 = softmax_f32,
    .log_softmax_f32 = log_softmax_f32,
    .logsumexp_f32 = logsumexp_f32,
    .softmax_f64 = softmax_f64,
    .log_softmax_f64 = log_softmax_f64,
    .logsumexp_f64 = logsumexp_f64,
    .row_f32 = row_f32,
    .row_f64 = row_f64,
    .rows_f32 = rows_f32,
    .rows_f64 = rows_f64,
    .softmax_cols_f32 = softmax_cols_f32,
    .log_softmax_cols_f32 = log_softmax_cols_f32,
    .logsumexp_cols_f32 = logsumexp_cols_f32,
    .softmax_cols_f64 = softmax_cols_f64,
    .log_softmax_cols_f64 = log_softmax_cols_f64,
    .logsumexp_cols_f64 = logsumexp_cols_f64,
    .rmax_f32 = rmax_f32,
    .expsum_lse_f32 = expsum_lse_f32,
    .expsum_lse_f64 = expsum_lse_f64,
    .sumexp_f32 = sumexp_f32,
    .expsum_f32 = expsum_store_f32,
    .scale_f32 = scale_f32,
    .logsub_f32 = logsub_f32,
    .rmax_f64 = rmax_f64,
    .sumexp_f64 = sumexp_f64,
    .expsum_f64 = expsum_store_f64,
    .scale_f64 = scale_f64,
    .logsub_f64 = logsub_f64,
    .sumexp_s_f32 = sumexp_s_f32,
    .expsum_s_f32 = expsum_s_f32,
    .logsub_s_f32 = logsub_s_f32,
    .keep_f32 = keep_f32,
    .lsub_dot_f32 = lsub_dot_f32,
    .dot_f32 = dot_f32,
    .sum_f32 = sum_f32,
    .softmax_bwd_f32 = softmax_bwd_f32,
    .log_softmax_bwd_f32 = log_softmax_bwd_f32,
    .sigmoid_f32 = sigmoid_f32,
    .log_sigmoid_f32 = log_sigmoid_f32,
    .sumexp_s_f64 = sumexp_s_f64,
    .expsum_s_f64 = expsum_s_f64,
    .logsub_s_f64 = logsub_s_f64,
    .keep_f64 = keep_f64,
    .lsub_dot_f64 = lsub_dot_f64,
    .dot_f64 = dot_f64,
    .sum_f64 = sum_f64,
    .softmax_bwd_f64 = softmax_bwd_f64,
    .log_softmax_bwd_f64 = log_softmax_bwd_f64,
    .sigmoid_f64 = sigmoid_f64,
    .log_sigmoid_f64 = log_sigmoid_f64,
    .exp_f32 = exp_f32,
    .exp_f64 = exp_f64,
};
