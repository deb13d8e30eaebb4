// Embedding ditto: one autograd step, then a bit-for-bit reproducibility check.
#include <ditto/ditto.h>

#include <cstring>
#include <iostream>

int main() {
  ditto::Generator gen(42);                     // counter-based Philox stream, seed 42
  ditto::Tensor x = ditto::randn({4, 3}, gen);  // (4, 3) inputs
  ditto::Tensor w = ditto::randn({3, 2}, gen);  // (3, 2) weights
  w.requires_grad_();
  ditto::Tensor loss = ditto::matmul(x, w).sum();
  loss.backward();
  std::cout << "loss = " << loss.item<float>() << "\ndloss/dw =\n" << w.grad() << "\n";

  // Deterministic mode (the default): the sum's bits do not depend on the thread count.
  ditto::Tensor big = ditto::randn({1 << 20}, gen);
  ditto::set_num_threads(1);
  const float one = big.sum().item<float>();
  ditto::set_num_threads(3);
  const float three = big.sum().item<float>();
  const bool same = std::memcmp(&one, &three, sizeof(float)) == 0;
  std::cout << "sum of 2^20 floats, 1 vs 3 threads: " << (same ? "same bits" : "DIFFERENT") << "\n";
  return same ? 0 : 1;
}
