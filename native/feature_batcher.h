// Dynamic batching of the feature model across concurrent recognitions,
// as an inference server's dynamic batcher (NVIDIA Triton's)
// does, but without a scheduler thread: the recognitions themselves run the
// batches. Each recognition pre-processes its own crops on its own worker
// thread and queues them; the first one to find no batch forming becomes the
// leader, waits until `maxBatch` rows are queued, the wait bound passes, or no
// other recognition is still before its feature stage (so a lone request never
// waits), runs one ONNX Runtime Run over everything taken and hands each
// recognition its rows. The wait is bounded by `maxWaitMs`; rows beyond
// `maxBatch` go in the next batch.
#pragma once
#include <opencv2/core.hpp>

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <vector>

#include "feature_extractor.h"
#include "stage_times.h"

namespace shitu {

struct BatchingOptions {
  int maxBatch = 0;        // rows per Run across recognitions; < 2: no batching
  double maxWaitMs = 2.0;  // how long a leader waits for more rows
  bool enabled() const { return maxBatch >= 2; }
};

struct BatcherStats {
  uint64_t runs = 0;      // ONNX Runtime Runs made by the batcher
  uint64_t requests = 0;  // Extract calls served (recognitions with at least one crop)
  uint64_t rows = 0;      // crops embedded
  uint64_t maxRowsInRun = 0;
};

class FeatureBatcher {
 public:
  explicit FeatureBatcher(std::shared_ptr<FeatureExtractor> extractor) : extractor_(std::move(extractor)) {}

  // A recognition that may queue crops says so when it starts (RAII): a
  // leader only waits while some recognition is still before its feature stage.
  class Ticket {
   public:
    explicit Ticket(FeatureBatcher* b) : b_(b) { if (b_) b_->Arrive(); }
    ~Ticket() { Release(); }
    Ticket(const Ticket&) = delete;
    Ticket& operator=(const Ticket&) = delete;
    void Release() {
      if (b_) b_->Depart();
      b_ = nullptr;
    }
   private:
    friend class FeatureBatcher;
    void Forget() { b_ = nullptr; }  // its share already given back by the batcher, under its lock
    FeatureBatcher* b_;
  };

  // crops.size() * dim floats, as FeatureExtractor::Extract. `ticket` is
  // released when the crops are queued. t->recBatchWait gets the time spent
  // waiting for the batch and for other recognitions' Runs.
  std::vector<float> Extract(const std::vector<cv::Mat>& crops, const BatchingOptions& o, Ticket& ticket, StageTimes* t);

  BatcherStats stats() const;

 private:
  struct Request {
    std::unique_ptr<float[]> input;  // rows pre-processed tensors
    size_t rows = 0;
    float* output = nullptr;         // rows * dim
    bool done = false;
    std::exception_ptr error;
  };
  void Arrive();
  void Depart();
  void RunBatch(const std::vector<Request*>& batch, size_t rows, StageTimes* t);

  std::shared_ptr<FeatureExtractor> extractor_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Request*> queue_;
  size_t queuedRows_ = 0;
  int before_ = 0;  // recognitions holding a ticket, crops not yet queued
  bool leading_ = false;
  BatcherStats stats_;
};

}  // namespace shitu
