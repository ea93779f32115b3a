#include "draw.h"

#include <algorithm>
#include <cmath>
#include <memory>

#include "errors.h"
#include "text_renderer.h"

namespace shitu {

// 20 saturated colours (RGB), ordered so that neighbouring indices contrast.
static const unsigned char kPaletteRgb[kPaletteSize][3] = {
    {230, 25, 75},   {60, 180, 75},  {0, 130, 200},   {245, 130, 48}, {145, 30, 180},
    {70, 240, 240},  {240, 50, 230}, {210, 245, 60},  {255, 225, 25}, {0, 128, 128},
    {170, 110, 40},  {128, 0, 0},    {128, 128, 0},   {0, 0, 128},    {255, 0, 128},
    {0, 255, 127},   {100, 80, 255}, {0, 100, 0},     {255, 105, 180}, {255, 160, 0},
};

cv::Scalar PaletteColor(int index) {
  const unsigned char* c = kPaletteRgb[((index % kPaletteSize) + kPaletteSize) % kPaletteSize];
  return cv::Scalar(c[2], c[1], c[0]);
}

// White text on dark tags, black on light ones (yellow, cyan, lime ...).
static cv::Scalar TextColorOn(const cv::Scalar& bgr) {
  double luma = 0.114 * bgr[0] + 0.587 * bgr[1] + 0.299 * bgr[2];
  return luma > 150 ? cv::Scalar(0, 0, 0) : cv::Scalar(255, 255, 255);
}

static void Fill(cv::Mat& img, const cv::Rect& r, const cv::Scalar& colour) {
  cv::Rect clipped = r & cv::Rect(0, 0, img.cols, img.rows);
  if (clipped.area() > 0) img(clipped).setTo(colour);
}

// A coordinate as the centre of a `thickness`-wide line that stays fully inside
// [0, size): boxes touching or crossing the border (the whole-image box used
// when nothing is detected) keep a visible outline.
static int LineCentre(float v, int size, int thickness) {
  const int before = thickness / 2, after = thickness - 1 - before;
  int lo = before, hi = size - 1 - after;
  if (hi < lo) { lo = 0; hi = size - 1; }
  return static_cast<int>(std::lround(std::clamp(static_cast<double>(v), static_cast<double>(lo), static_cast<double>(hi))));
}

cv::Mat DrawResults(const cv::Mat& bgr, const std::vector<DrawItem>& items, const DrawOptions& options,
                    std::string* usedFont) {
  if (bgr.empty() || bgr.type() != CV_8UC3) throw ShituError(kErrDraw, "drawResults needs a non-empty 8-bit BGR picture");
  cv::Mat out = bgr.clone();
  const int W = out.cols, H = out.rows;
  const int thickness = std::max(1, static_cast<int>(0.002 * std::max(W, H)));
  const int fontSize = static_cast<int>(0.018 * W) + 2;
  const int before = thickness / 2, after = thickness - 1 - before;

  bool anyText = std::any_of(items.begin(), items.end(), [](const DrawItem& it) { return !it.text.empty(); });
  std::shared_ptr<TextRenderer> font = TextRenderer::Choose(options.fontPath);
  if (usedFont) *usedFont = font->fontPath();

  // Outer edges of each outline, kept for placing its tag.
  std::vector<cv::Rect> outer(items.size());
  for (size_t i = 0; i < items.size(); ++i) {
    const DrawItem& it = items[i];
    if (!std::isfinite(it.x1) || !std::isfinite(it.y1) || !std::isfinite(it.x2) || !std::isfinite(it.y2))
      throw ShituError(kErrDraw, "box " + std::to_string(i) + " has a non-finite coordinate");
    const cv::Scalar colour = PaletteColor(it.colorIndex);
    // Four filled strips rather than cv::rectangle: thick lines get square
    // corners and an exact, predictable extent.
    const int L = LineCentre(it.x1, W, thickness) - before, R = LineCentre(it.x2, W, thickness) + after;
    const int T = LineCentre(it.y1, H, thickness) - before, B = LineCentre(it.y2, H, thickness) + after;
    outer[i] = cv::Rect(L, T, R - L + 1, B - T + 1);
    Fill(out, cv::Rect(L, T, R - L + 1, thickness), colour);
    Fill(out, cv::Rect(L, B - thickness + 1, R - L + 1, thickness), colour);
    Fill(out, cv::Rect(L, T, thickness, B - T + 1), colour);
    Fill(out, cv::Rect(R - thickness + 1, T, thickness, B - T + 1), colour);
  }
  if (!anyText) return out;

  // Tags after all outlines, so that no outline crosses a label.
  const int padX = std::max(2, fontSize / 7), padY = std::max(1, fontSize / 10);
  for (size_t i = 0; i < items.size(); ++i) {
    const DrawItem& it = items[i];
    if (it.text.empty()) continue;
    const cv::Scalar colour = PaletteColor(it.colorIndex);
    const TextMetrics m = font->MeasureText(it.text, fontSize);
    const int tagW = m.width + 2 * padX, tagH = m.height + 2 * padY;
    // Left-aligned with the outline, shifted left when it would leave the picture.
    const int tagX = std::max(0, std::min(outer[i].x, W - tagW));
    // Above the outline when it fits, else inside the box over its top edge.
    const int tagY = outer[i].y - tagH >= 0 ? outer[i].y - tagH : std::max(0, outer[i].y);
    Fill(out, cv::Rect(tagX, tagY, tagW, tagH), colour);
    font->DrawText(out, it.text, tagX + padX, tagY + padY, fontSize, TextColorOn(colour));
  }
  return out;
}

}  // namespace shitu
