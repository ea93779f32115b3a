#include "feature_batcher.h"

#include <algorithm>
#include <chrono>
#include <cstring>

namespace shitu {

void FeatureBatcher::Arrive() {
  std::lock_guard<std::mutex> lk(mu_);
  ++before_;
}

void FeatureBatcher::Depart() {
  {
    std::lock_guard<std::mutex> lk(mu_);
    --before_;
  }
  cv_.notify_all();  // a leader waiting for this recognition's crops need not wait
}

BatcherStats FeatureBatcher::stats() const {
  std::lock_guard<std::mutex> lk(mu_);
  return stats_;
}

// Outside the lock: one Run (or Runs of the model's maxBatch) over the rows of
// every request taken, then each request's rows copied back.
void FeatureBatcher::RunBatch(const std::vector<Request*>& batch, size_t rows, StageTimes* t) {
  const FeatureExtractor& ex = *extractor_;
  const size_t per = ex.inputSize(), dim = static_cast<size_t>(ex.dim());
  if (batch.size() == 1) {
    ex.RunPreprocessed(batch[0]->input.get(), rows, batch[0]->output, t);
    return;
  }
  Stopwatch sw;
  std::unique_ptr<float[]> input(new float[rows * per]);
  std::vector<float> output(rows * dim);
  size_t at = 0;
  for (Request* r : batch) {
    std::memcpy(input.get() + at * per, r->input.get(), r->rows * per * sizeof(float));
    at += r->rows;
  }
  if (t) t->recPreprocess += sw.Lap();
  ex.RunPreprocessed(input.get(), rows, output.data(), t);
  at = 0;
  for (Request* r : batch) {
    std::copy_n(output.begin() + at * dim, r->rows * dim, r->output);
    at += r->rows;
  }
}

std::vector<float> FeatureBatcher::Extract(const std::vector<cv::Mat>& crops, const BatchingOptions& o, Ticket& ticket,
                                           StageTimes* t) {
  const FeatureExtractor& ex = *extractor_;
  std::vector<float> features(crops.size() * ex.dim());
  if (crops.empty()) {
    ticket.Release();
    return features;
  }
  Request req;
  req.rows = crops.size();
  req.output = features.data();
  Stopwatch sw;
  try {
    req.input.reset(new float[req.rows * ex.inputSize()]);
    ex.PreprocessAll(crops, req.input.get());
  } catch (...) {
    ticket.Release();
    throw;
  }
  if (t) t->recPreprocess += sw.Lap();

  const size_t maxRows = static_cast<size_t>(std::max(1, o.maxBatch));
  const auto wait = std::chrono::duration_cast<std::chrono::steady_clock::duration>(
      std::chrono::duration<double, std::milli>(std::max(0.0, o.maxWaitMs)));
  double waited = 0;
  std::unique_lock<std::mutex> lk(mu_);
  queue_.push_back(&req);
  queuedRows_ += req.rows;
  --before_;  // the ticket's share, given back under the same lock as the queueing
  ticket.Forget();
  cv_.notify_all();
  while (!req.done) {
    if (leading_) {
      Stopwatch ws;
      cv_.wait(lk);
      waited += ws.Lap();
      continue;
    }
    leading_ = true;
    {
      Stopwatch ws;
      const auto deadline = std::chrono::steady_clock::now() + wait;
      while (queuedRows_ < maxRows && before_ > 0 && std::chrono::steady_clock::now() < deadline)
        cv_.wait_until(lk, deadline);
      waited += ws.Lap();
    }
    // Requests in arrival order up to maxRows rows (at least one, whatever its size).
    std::vector<Request*> batch;
    size_t rows = 0;
    while (!queue_.empty() && (batch.empty() || rows + queue_.front()->rows <= maxRows)) {
      batch.push_back(queue_.front());
      rows += queue_.front()->rows;
      queue_.pop_front();
    }
    queuedRows_ -= rows;
    lk.unlock();
    std::exception_ptr error;
    try {
      RunBatch(batch, rows, t);
    } catch (...) {
      error = std::current_exception();
    }
    lk.lock();
    for (Request* r : batch) {
      r->done = true;
      r->error = error;
    }
    stats_.runs += 1;
    stats_.requests += batch.size();
    stats_.rows += rows;
    stats_.maxRowsInRun = std::max<uint64_t>(stats_.maxRowsInRun, rows);
    leading_ = false;
    cv_.notify_all();
  }
  lk.unlock();
  if (t) t->recBatchWait += waited;
  if (req.error) std::rethrow_exception(req.error);
  return features;
}

}  // namespace shitu
