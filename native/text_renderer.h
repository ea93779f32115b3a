// Drawing UTF-8 text (Chinese included) onto a BGR picture with FreeType.
// cv::putText only knows ASCII Hershey fonts, and recognition labels are often
// Chinese, so labels go through a real font; cv::putText is only the last resort
// when no font file exists on the machine.
#pragma once
#include <opencv2/core.hpp>

#include <memory>
#include <mutex>
#include <string>

struct FT_FaceRec_;  // FreeType's face, kept out of this header

namespace shitu {

struct TextMetrics {
  int width = 0;     // pixels from the pen start to the right end of the ink/advance
  int height = 0;    // line height: ascent + descent
  int baseline = 0;  // distance from the top of the line down to the baseline (the ascent)
};

// The font file to use: `explicitPath` when non-empty (it must exist, else a
// ShituError ERR_DRAW), otherwise the first existing of $SHITU_FONT and a list of
// CJK-capable system fonts. "" when none exists.
std::string ResolveFontPath(const std::string& explicitPath);

class TextRenderer {
 public:
  // A renderer for `fontPath` as ResolveFontPath gives it ("" = the cv::putText
  // fallback). Cached for the life of the process per (path, face index);
  // faceIndex -1 picks the Simplified Chinese face of a font collection (.ttc),
  // else face 0. Throws ShituError ERR_DRAW when the file is not a usable font.
  static std::shared_ptr<TextRenderer> ForFont(const std::string& fontPath, long faceIndex = -1);

  // The loaded font file; "" when drawing falls back to cv::putText (ASCII only:
  // other characters become '?').
  const std::string& fontPath() const { return path_; }

  TextMetrics MeasureText(const std::string& utf8, int pixelSize);
  // Draws one line with its top at yTop, blending glyph coverage over `img`
  // (CV_8UC3); pixels outside the picture are clipped.
  void DrawText(cv::Mat& img, const std::string& utf8, int x, int yTop, int pixelSize, const cv::Scalar& bgr);

  // The renderer for ResolveFontPath(explicitPath).
  static std::shared_ptr<TextRenderer> Choose(const std::string& explicitPath);

 private:
  TextRenderer(std::string path, FT_FaceRec_* face) : path_(std::move(path)), face_(face) {}
  std::string path_;
  FT_FaceRec_* face_;  // null for the cv::putText fallback; never freed (see ForFont)
  std::mutex mu_;      // an FT_Face must not be used by two threads at once
};

}  // namespace shitu
