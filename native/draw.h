// The visualisation of recognition results: each box outlined in its colour and,
// when it has text, a filled tag with the text above the box's top-left corner
// (inside the box when there is no room above). Sizes follow the reference:
// line width int(0.002 * longest side) (at least 1), font int(0.018 * width) + 2.
#pragma once
#include <opencv2/core.hpp>

#include <string>
#include <vector>

namespace shitu {

struct DrawItem {
  float x1 = 0, y1 = 0, x2 = 0, y2 = 0;  // pixels, x1 <= x2, y1 <= y2
  std::string text;                      // UTF-8; empty: the box only, no tag
  int colorIndex = 0;                    // >= 0; colour = palette[colorIndex % kPaletteSize]
};

struct DrawOptions {
  std::string fontPath;  // a font file; "" = $SHITU_FONT or a system CJK font (text_renderer.h)
};

inline constexpr int kPaletteSize = 20;
// Palette entry `index % kPaletteSize`, BGR.
cv::Scalar PaletteColor(int index);

// Returns an annotated copy of `bgr` (CV_8UC3); the input is left untouched.
// `usedFont`, when given, receives the font file drawn with ("" = the ASCII-only
// cv::putText fallback). Throws ShituError ERR_DRAW for an unusable named font.
cv::Mat DrawResults(const cv::Mat& bgr, const std::vector<DrawItem>& items, const DrawOptions& options,
                    std::string* usedFont = nullptr);

}  // namespace shitu
