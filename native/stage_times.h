// Milliseconds spent in each stage of one native call, reported to JS so the
// benchmark (and users) can see where the time goes.
#pragma once
#include <chrono>

namespace shitu {

struct StageTimes {
  double decode = 0, detPreprocess = 0, detInference = 0, detPostprocess = 0;
  double recPreprocess = 0, recInference = 0, search = 0, total = 0;
  // Dynamic batching: waiting for a batch to form and for Runs made by other recognitions.
  double recBatchWait = 0;
};

// Calls f(name, milliseconds) for each stage, in the order JS sees them: the one
// list of stage names (TimesToJs, contracts(); lib/native/stage-names.ts STAGE_NAMES).
template <typename F>
void ForEachStage(const StageTimes& t, F f) {
  f("decode", t.decode);
  f("detPreprocess", t.detPreprocess);
  f("detInference", t.detInference);
  f("detPostprocess", t.detPostprocess);
  f("recPreprocess", t.recPreprocess);
  f("recInference", t.recInference);
  f("recBatchWait", t.recBatchWait);
  f("search", t.search);
  f("total", t.total);
}

class Stopwatch {
 public:
  Stopwatch() : t0_(std::chrono::steady_clock::now()) {}
  // Milliseconds since construction or the previous lap.
  double Lap() {
    auto now = std::chrono::steady_clock::now();
    double ms = std::chrono::duration<double, std::milli>(now - t0_).count();
    t0_ = now;
    return ms;
  }

 private:
  std::chrono::steady_clock::time_point t0_;
};

}  // namespace shitu
