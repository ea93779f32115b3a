#include "detection_postprocess.h"

#include <algorithm>
#include <cmath>

namespace shitu {

// Expected distance (in bins) from a softmax over regMax+1 bins.
static float DistributionMean(const float* logits, int bins) {
  float mx = logits[0];
  for (int i = 1; i < bins; ++i) mx = std::max(mx, logits[i]);
  float sum = 0, acc = 0;
  for (int i = 0; i < bins; ++i) {
    float e = std::exp(logits[i] - mx);
    sum += e;
    acc += e * i;
  }
  return acc / sum;
}

std::vector<Detection> DecodeGfl(const std::vector<GflLevel>& levels, const GflParams& p) {
  std::vector<Detection> out;
  const int C = p.numClasses, bins = p.regMax + 1;
  for (const GflLevel& L : levels) {
    const int hw = L.gridW * L.gridH;
    for (int i = 0; i < hw; ++i) {
      const float* s = L.scores + static_cast<size_t>(i) * C;
      int best = 0;
      for (int c = 1; c < C; ++c) if (s[c] > s[best]) best = c;
      if (s[best] < p.scoreThreshold) continue;  // cheap test before the softmaxes
      const float* d = L.dist + static_cast<size_t>(i) * 4 * bins;
      const float cx = (i % L.gridW + 0.5f) * L.stride, cy = (i / L.gridW + 0.5f) * L.stride;
      Detection det;
      det.cls = best;
      det.score = s[best];
      det.x1 = cx - DistributionMean(d, bins) * L.stride;
      det.y1 = cy - DistributionMean(d + bins, bins) * L.stride;
      det.x2 = cx + DistributionMean(d + 2 * bins, bins) * L.stride;
      det.y2 = cy + DistributionMean(d + 3 * bins, bins) * L.stride;
      out.push_back(det);
    }
  }
  if (static_cast<int>(out.size()) > p.preNmsTopK) {
    std::partial_sort(out.begin(), out.begin() + p.preNmsTopK, out.end(),
                      [](const Detection& a, const Detection& b) { return a.score > b.score; });
    out.resize(p.preNmsTopK);
  }
  return out;
}

static float Iou(const Detection& a, const Detection& b) {
  float ix = std::max(0.f, std::min(a.x2, b.x2) - std::max(a.x1, b.x1));
  float iy = std::max(0.f, std::min(a.y2, b.y2) - std::max(a.y1, b.y1));
  float inter = ix * iy;
  float ua = std::max(0.f, a.x2 - a.x1) * std::max(0.f, a.y2 - a.y1) +
             std::max(0.f, b.x2 - b.x1) * std::max(0.f, b.y2 - b.y1) - inter;
  return ua > 0 ? inter / ua : 0.f;
}

std::vector<Detection> ClassAwareNms(std::vector<Detection> dets, float iouThreshold, int maxKeep) {
  std::stable_sort(dets.begin(), dets.end(), [](const Detection& a, const Detection& b) { return a.score > b.score; });
  std::vector<Detection> keep;
  std::vector<char> removed(dets.size(), 0);
  for (size_t i = 0; i < dets.size() && static_cast<int>(keep.size()) < maxKeep; ++i) {
    if (removed[i]) continue;
    keep.push_back(dets[i]);
    for (size_t j = i + 1; j < dets.size(); ++j)
      if (!removed[j] && dets[j].cls == dets[i].cls && Iou(dets[i], dets[j]) > iouThreshold) removed[j] = 1;
  }
  return keep;
}

std::vector<Detection> FinishDetections(std::vector<Detection> dets, float threshold, int width, int height,
                                        bool wholeImageFallback) {
  std::vector<Detection> out;
  for (Detection d : dets) {
    if (d.cls < 0 || !(d.score > threshold)) continue;
    d.x1 = std::clamp(d.x1, 0.f, static_cast<float>(width));
    d.x2 = std::clamp(d.x2, 0.f, static_cast<float>(width));
    d.y1 = std::clamp(d.y1, 0.f, static_cast<float>(height));
    d.y2 = std::clamp(d.y2, 0.f, static_cast<float>(height));
    if (!(d.x2 > d.x1) || !(d.y2 > d.y1)) continue;
    out.push_back(d);
  }
  std::stable_sort(out.begin(), out.end(), [](const Detection& a, const Detection& b) { return a.score > b.score; });
  if (out.empty() && wholeImageFallback) {
    Detection whole;
    whole.cls = 0;
    whole.score = 0;
    whole.x2 = static_cast<float>(width);
    whole.y2 = static_cast<float>(height);
    out.push_back(whole);
  }
  return out;
}

}  // namespace shitu
