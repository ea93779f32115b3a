#include "recognizer.h"

#include <algorithm>

namespace shitu {

cv::Mat CropBox(const cv::Mat& img, const Detection& d) {
  int x1 = std::clamp(static_cast<int>(d.x1), 0, img.cols - 1);
  int y1 = std::clamp(static_cast<int>(d.y1), 0, img.rows - 1);
  int x2 = std::clamp(static_cast<int>(d.x2), x1 + 1, img.cols);
  int y2 = std::clamp(static_cast<int>(d.y2), y1 + 1, img.rows);
  return img(cv::Rect(x1, y1, x2 - x1, y2 - y1));  // a view, no copy
}

RecognizeResult Recognize(const ImageSource& src, const Detector& detector, const FeatureExtractor& extractor,
                          const SearchFn* search, const RecognizeOptions& o, FeatureBatcher* batcher) {
  o.cancel.ThrowIfCancelled("before decoding");
  if (!o.batching.enabled()) batcher = nullptr;
  // Counted as before the feature stage from here, so a leader of a batch waits for these crops.
  FeatureBatcher::Ticket ticket(batcher);
  RecognizeResult r;
  Stopwatch total, sw;
  cv::Mat img;
  cv::Size full;
  if (o.reducedDecode && !o.keepImage) {
    const PreprocessSpec& pre = detector.spec().pre;
    ReducedDecode need;
    need.minShortSide = static_cast<int>(kReducedDecodeCover * std::min(pre.width, pre.height));
    need.minLongSide = static_cast<int>(kReducedDecodeCover * std::max(pre.width, pre.height));
    img = DecodeImageReduced(src, need, &full);
  } else {
    img = DecodeImage(src);
    full = img.size();
  }
  r.times.decode = sw.Lap();
  o.cancel.ThrowIfCancelled("after decoding");
  r.width = full.width;
  r.height = full.height;

  std::vector<Detection> dets = detector.Detect(img, o.detThreshold, &r.times);
  o.cancel.ThrowIfCancelled("after detection");
  std::vector<cv::Mat> crops;
  crops.reserve(dets.size());
  for (const Detection& d : dets) crops.push_back(CropBox(img, d));
  std::vector<float> features =
      batcher ? batcher->Extract(crops, o.batching, ticket, &r.times) : extractor.Extract(crops, &r.times, o.cancel);
  if (full != img.size()) {
    // Boxes into full-picture pixels (after cropping, which works on the reduced picture).
    const float fx = static_cast<float>(full.width) / img.cols, fy = static_cast<float>(full.height) / img.rows;
    for (Detection& d : dets) {
      d.x1 = std::min(d.x1 * fx, static_cast<float>(full.width));
      d.x2 = std::min(d.x2 * fx, static_cast<float>(full.width));
      d.y1 = std::min(d.y1 * fy, static_cast<float>(full.height));
      d.y2 = std::min(d.y2 * fy, static_cast<float>(full.height));
    }
  }
  r.dim = extractor.dim();

  sw.Lap();
  std::vector<int64_t> ids;
  std::vector<float> scores;
  const int nq = static_cast<int>(dets.size());
  if (search && nq > 0 && o.topk > 0) (*search)(features, nq, o.topk, ids, scores);
  r.times.search = sw.Lap();

  for (int i = 0; i < nq; ++i) {
    BoxResult b;
    b.det = dets[i];
    for (int j = 0; j < o.topk && !ids.empty(); ++j) {
      int64_t id = ids[static_cast<size_t>(i) * o.topk + j];
      if (id < 0) continue;  // id 0 is a valid id (the reference once dropped it)
      b.ids.push_back(id);
      b.scores.push_back(scores[static_cast<size_t>(i) * o.topk + j]);
    }
    r.boxes.push_back(std::move(b));
  }
  if (o.keepFeatures) r.features = std::move(features);
  if (o.keepImage) r.image = img;
  r.times.total = total.Lap();
  return r;
}

}  // namespace shitu
