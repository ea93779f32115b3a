// Turning raw detector outputs into boxes in original-image pixels:
// GFL/PicoDet distribution decoding, class-aware NMS, threshold, clip,
// dropping empty boxes and the whole-image fallback.
#pragma once
#include <vector>

namespace shitu {

struct Detection {
  int cls = 0;
  float score = 0;
  float x1 = 0, y1 = 0, x2 = 0, y2 = 0;
};

// One stride level of a raw GFL head: scores [HW, C] (already sigmoid) and
// distributions [HW, 4*(regMax+1)] (left, top, right, bottom).
struct GflLevel {
  const float* scores;
  const float* dist;
  int stride;
  int gridW, gridH;
};

struct GflParams {
  int numClasses = 0;
  int regMax = 7;
  float scoreThreshold = 0.025f;  // candidates below are never kept
  int preNmsTopK = 1000;
};

// Candidates in model-input pixels.
std::vector<Detection> DecodeGfl(const std::vector<GflLevel>& levels, const GflParams& p);

// Greedy NMS within each class, best first; keeps at most maxKeep.
std::vector<Detection> ClassAwareNms(std::vector<Detection> dets, float iouThreshold, int maxKeep);

// Threshold (score > threshold), clip to the image, drop empty boxes, sort by score;
// when nothing is left and wholeImageFallback, one box [0,0,W,H] with score 0.
std::vector<Detection> FinishDetections(std::vector<Detection> dets, float threshold, int width, int height,
                                        bool wholeImageFallback);

}  // namespace shitu
