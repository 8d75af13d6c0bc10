// sample_token.cpp - sampling the next token of a language model with fastsoftmax's C API.
//
// 32000 logits (deterministic pseudo-random values from a fixed seed, with a few strong candidates),
// a temperature T: the logits are scaled by 1/T, turned into probabilities by
// fastsoftmax_softmax_rows_f32, and one token is drawn with a fixed-seed generator.  Prints the token,
// its probability and the top 5, and checks that the probabilities sum to 1 within 1e-5.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <numeric>
#include <random>
#include <vector>

#include <fastsoftmax.h>

namespace {

constexpr std::size_t kVocab = 32000;
constexpr float kTemperature = 0.7f;

// uniform in [0, 1) from the top 53 bits: the same on every standard library (std::mt19937_64's
// sequence is fixed by the standard, the distributions are not)
double uniform01(std::mt19937_64 &g) { return static_cast<double>(g() >> 11) * 0x1.0p-53; }

std::vector<float> make_logits(std::uint64_t seed) {
    std::mt19937_64 g(seed);
    std::vector<float> logits(kVocab);
    for (auto &v : logits) {
        // roughly normal (Irwin-Hall of 4 uniforms), spread 2
        double s = uniform01(g) + uniform01(g) + uniform01(g) + uniform01(g) - 2.0;
        v = static_cast<float>(2.0 * s * 1.7320508075688772);
    }
    // a handful of likely continuations
    const std::size_t strong[] = {17, 4242, 9001, 12345, 31999};
    const float boost[] = {9.5f, 9.0f, 8.2f, 7.9f, 7.0f};
    for (std::size_t k = 0; k < 5; k++) logits[strong[k]] = boost[k];
    return logits;
}

}  // namespace

int main() {
    std::vector<float> logits = make_logits(20240601);

    // temperature: scale by 1/T, then softmax through the C API
    std::vector<float> scaled(kVocab), probs(kVocab);
    std::transform(logits.begin(), logits.end(), scaled.begin(), [](float v) { return v / kTemperature; });
    int status = fastsoftmax_softmax_rows_f32(scaled.data(), probs.data(), 1, static_cast<std::ptrdiff_t>(kVocab), 0);
    if (status != FASTSOFTMAX_OK) {
        std::fprintf(stderr, "fastsoftmax_softmax_rows_f32 failed: status %d\n", status);
        return 1;
    }

    // check: a probability distribution
    double sum = 0.0;
    for (float p : probs) {
        if (!(p >= 0.0f && p <= 1.0f)) {
            std::fprintf(stderr, "probability out of [0, 1]: %g\n", static_cast<double>(p));
            return 1;
        }
        sum += p;
    }
    if (std::fabs(sum - 1.0) > 1e-5) {
        std::fprintf(stderr, "probabilities sum to %.9f\n", sum);
        return 1;
    }

    // draw a token: inverse CDF with a fixed-seed generator
    std::mt19937_64 rng(7);
    const double u = uniform01(rng) * sum;
    double acc = 0.0;
    std::size_t token = kVocab - 1;
    for (std::size_t i = 0; i < kVocab; i++) {
        acc += probs[i];
        if (u < acc) {
            token = i;
            break;
        }
    }

    std::vector<std::size_t> order(kVocab);
    std::iota(order.begin(), order.end(), std::size_t{0});
    std::partial_sort(order.begin(), order.begin() + 5, order.end(),
                      [&](std::size_t a, std::size_t b) { return probs[a] > probs[b] || (probs[a] == probs[b] && a < b); });

    std::printf("fastsoftmax %s (ISA %s), vocabulary %zu, temperature %.2f\n", fastsoftmax_version(),
                fastsoftmax_last_isa(), kVocab, static_cast<double>(kTemperature));
    std::printf("sampled token %zu  p=%.6f\n", token, static_cast<double>(probs[token]));
    std::printf("top-5:");
    for (int k = 0; k < 5; k++)
        std::printf(" %zu (%.6f)", order[k], static_cast<double>(probs[order[k]]));
    std::printf("\nsum of probabilities %.9f\n", sum);
    return 0;
}
