// The simulator control the README documents, used through the installed <ditto/ditto.h> only:
// a seeded schedule, the worker count and the launch statistics. Built and run by the
// consumer_package ctest test, next to the README's example (main.cpp).
#include <ditto/ditto.h>

#include <iostream>

int main() {
  const ditto::sim::Stats before = ditto::sim::get_stats();
  ditto::Tensor sum;
  {
    ditto::sim::ScheduleGuard guard({ditto::sim::Order::kRandom, 42}, 1);
    ditto::Tensor x = ditto::ones({1000}, ditto::DType::f32, ditto::Device::sim());
    sum = x.sum();
    if (ditto::sim::get_schedule().seed != 42 || ditto::sim::get_num_workers() != 1) {
      std::cerr << "schedule or workers not applied\n";
      return 1;
    }
  }
  const ditto::sim::Stats after = ditto::sim::get_stats();
  const float s = sum.item<float>();
  std::cout << "sim sum " << s << ", launches " << after.launches - before.launches << "\n";
  return s == 1000.0f && after.launches > before.launches ? 0 : 1;
}
