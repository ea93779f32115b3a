#include "text_renderer.h"

#include <ft2build.h>
#include FT_FREETYPE_H
#include FT_TRUETYPE_TABLES_H

#include <opencv2/imgproc.hpp>

#include <sys/stat.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <map>
#include <utility>
#include <vector>

#include "errors.h"

namespace shitu {

// Searched in order when no font is named: CJK-capable fonts first, DejaVu last
// (Latin only, still better looking than the Hershey fallback).
static const char* const kSystemFonts[] = {
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/truetype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
};

static bool IsFile(const std::string& p) {
  struct stat st;
  return !p.empty() && ::stat(p.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

std::string ResolveFontPath(const std::string& explicitPath) {
  if (!explicitPath.empty()) {
    if (!IsFile(explicitPath)) throw ShituError(kErrDraw, "font file '" + explicitPath + "' not found");
    return explicitPath;
  }
  const char* env = std::getenv("SHITU_FONT");
  if (env && IsFile(env)) return env;
  for (const char* p : kSystemFonts)
    if (IsFile(p)) return p;
  return "";
}

// ---------------------------------------------------------------- font cache
// One FT_Library for the process. FreeType allows sharing it between threads as
// long as face creation and destruction are serialised, which the cache mutex
// does; each face is then used under its renderer's own mutex. Nothing here is
// ever freed: a worker may still be drawing while the addon unloads, and the
// state is a few faces.
static std::mutex g_cacheMu;
static FT_Library g_library = nullptr;

static std::map<std::pair<std::string, long>, std::shared_ptr<TextRenderer>>& Cache() {
  static auto* cache = new std::map<std::pair<std::string, long>, std::shared_ptr<TextRenderer>>();
  return *cache;
}

static std::string FtError(FT_Error e) {
  const char* s = FT_Error_String(e);  // null unless FreeType was built with error strings
  if (s) return s;
  switch (e) {  // Debian's build has none: name the common load failures
    case FT_Err_Cannot_Open_Resource: return "cannot open the file";
    case FT_Err_Unknown_File_Format: return "not a font file";
    case FT_Err_Invalid_File_Format: return "broken font file";
    default: return "FreeType error " + std::to_string(e);
  }
}

static bool EndsWith(const std::string& s, const std::string& tail) {
  return s.size() >= tail.size() && s.compare(s.size() - tail.size(), tail.size(), tail) == 0;
}

// Collections such as NotoSansCJK-Regular.ttc hold one face per region; face 0 is
// Japanese, whose forms of some hanzi differ from the Simplified Chinese that
// most labels are written in, so prefer the " SC" face when there is one.
static long PreferredFaceIndex(const std::string& path) {
  FT_Face probe = nullptr;
  if (FT_New_Face(g_library, path.c_str(), -1, &probe) != 0) return 0;
  long n = probe->num_faces;
  FT_Done_Face(probe);
  for (long i = 0; i < n; ++i) {
    FT_Face f = nullptr;
    if (FT_New_Face(g_library, path.c_str(), i, &f) != 0) continue;
    bool sc = f->family_name && EndsWith(f->family_name, " SC");
    FT_Done_Face(f);
    if (sc) return i;
  }
  return 0;
}

std::shared_ptr<TextRenderer> TextRenderer::ForFont(const std::string& fontPath, long faceIndex) {
  std::lock_guard<std::mutex> lock(g_cacheMu);
  auto& cache = Cache();
  auto key = std::make_pair(fontPath, faceIndex);
  auto it = cache.find(key);
  if (it != cache.end()) return it->second;

  FT_Face face = nullptr;
  if (!fontPath.empty()) {
    if (!g_library) {
      FT_Error e = FT_Init_FreeType(&g_library);
      if (e) throw ShituError(kErrDraw, "cannot initialise FreeType: " + FtError(e));
    }
    long index = faceIndex >= 0 ? faceIndex : PreferredFaceIndex(fontPath);
    FT_Error e = FT_New_Face(g_library, fontPath.c_str(), index, &face);
    if (e) throw ShituError(kErrDraw, "cannot load font '" + fontPath + "': " + FtError(e));
    // Most fonts select a Unicode charmap by themselves; ask explicitly for the rest.
    FT_Select_Charmap(face, FT_ENCODING_UNICODE);
  }
  std::shared_ptr<TextRenderer> r(new TextRenderer(fontPath, face));
  cache.emplace(key, r);
  return r;
}

std::shared_ptr<TextRenderer> TextRenderer::Choose(const std::string& explicitPath) {
  return ForFont(ResolveFontPath(explicitPath));
}

// ---------------------------------------------------------------- text
// Decodes UTF-8 into code points; malformed bytes become U+FFFD. Control
// characters (newlines, tabs) are dropped: a label is drawn as one line.
static std::vector<char32_t> DecodeUtf8(const std::string& s) {
  std::vector<char32_t> out;
  out.reserve(s.size());
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const auto* end = p + s.size();
  while (p < end) {
    unsigned char c = *p;
    char32_t cp;
    int extra;
    if (c < 0x80) { cp = c; extra = 0; }
    else if ((c & 0xE0) == 0xC0) { cp = c & 0x1F; extra = 1; }
    else if ((c & 0xF0) == 0xE0) { cp = c & 0x0F; extra = 2; }
    else if ((c & 0xF8) == 0xF0) { cp = c & 0x07; extra = 3; }
    else { out.push_back(0xFFFD); ++p; continue; }
    if (end - p <= extra) { out.push_back(0xFFFD); break; }
    bool ok = true;
    for (int i = 1; i <= extra; ++i) {
      if ((p[i] & 0xC0) != 0x80) { ok = false; break; }
      cp = (cp << 6) | (p[i] & 0x3F);
    }
    if (!ok) { out.push_back(0xFFFD); ++p; continue; }
    p += extra + 1;
    if (cp < 0x20 || cp == 0x7F) continue;
    out.push_back(cp);
  }
  return out;
}

// Light hinting: crisp horizontal strokes without distorting CJK glyph shapes.
static constexpr FT_Int32 kLoadFlags = FT_LOAD_DEFAULT | FT_LOAD_TARGET_LIGHT;

static void SetPixelSize(FT_Face face, int px) {
  if (FT_Set_Pixel_Sizes(face, 0, static_cast<FT_UInt>(px)) == 0) return;
  // Bitmap-only fonts accept only their own sizes: take the nearest.
  if (face->num_fixed_sizes > 0) {
    int best = 0;
    for (int i = 1; i < face->num_fixed_sizes; ++i)
      if (std::abs(face->available_sizes[i].height - px) < std::abs(face->available_sizes[best].height - px)) best = i;
    FT_Select_Size(face, best);
  }
}

// Line extent from the OS/2 typographic metrics where the font has them: they
// hug the glyphs (Noto CJK: 0.88 / 0.12 em) where the hhea line height
// (1.16 / 0.29 em) would leave a tag with a wide empty band above the text.
static void LineExtent(FT_Face face, int px, int& ascent, int& descent) {
  auto* os2 = static_cast<TT_OS2*>(FT_Get_Sfnt_Table(face, FT_SFNT_OS2));
  if (FT_IS_SCALABLE(face) && os2 && os2->version != 0xFFFF && os2->sTypoAscender > 0 && face->units_per_EM > 0) {
    double scale = static_cast<double>(px) / face->units_per_EM;
    ascent = static_cast<int>(std::ceil(os2->sTypoAscender * scale));
    descent = static_cast<int>(std::ceil(-os2->sTypoDescender * scale));
  } else {
    ascent = static_cast<int>((face->size->metrics.ascender + 63) >> 6);
    descent = static_cast<int>((-face->size->metrics.descender + 63) >> 6);
  }
  descent = std::max(descent, 0);
}

// Walks the glyphs of `text`, calling visit(slot, penX in 26.6 pixels) after each
// glyph is loaded with `flags`; returns the right end of advance and ink, 26.6.
template <class Visit>
static FT_Pos Layout(FT_Face face, const std::vector<char32_t>& text, FT_Int32 flags, Visit visit) {
  FT_Pos pen = 0, right = 0;
  FT_UInt prev = 0;
  const bool kern = FT_HAS_KERNING(face);
  for (char32_t cp : text) {
    FT_UInt gi = FT_Get_Char_Index(face, cp);  // 0 = .notdef: drawn as the font's box
    if (kern && prev && gi) {
      FT_Vector d;
      if (FT_Get_Kerning(face, prev, gi, FT_KERNING_DEFAULT, &d) == 0) pen += d.x;
    }
    if (FT_Load_Glyph(face, gi, flags) != 0) { prev = 0; continue; }
    FT_GlyphSlot g = face->glyph;
    visit(g, pen);
    right = std::max(right, pen + std::max<FT_Pos>(g->advance.x, g->metrics.horiBearingX + g->metrics.width));
    pen += g->advance.x;
    prev = gi;
  }
  return right;
}

static std::string AsciiOnly(const std::vector<char32_t>& text) {
  std::string s;
  for (char32_t cp : text) s.push_back(cp < 0x80 ? static_cast<char>(cp) : '?');
  return s;
}

static constexpr int kHershey = cv::FONT_HERSHEY_SIMPLEX;

static void HersheyParams(int px, double& scale, int& thickness) {
  thickness = std::max(1, px / 12);
  scale = cv::getFontScaleFromHeight(kHershey, px, thickness);
}

TextMetrics TextRenderer::MeasureText(const std::string& utf8, int pixelSize) {
  pixelSize = std::max(1, pixelSize);
  std::vector<char32_t> text = DecodeUtf8(utf8);
  TextMetrics m;
  if (!face_) {
    double scale;
    int thickness, below = 0;
    HersheyParams(pixelSize, scale, thickness);
    cv::Size s = cv::getTextSize(AsciiOnly(text), kHershey, scale, thickness, &below);
    m.width = text.empty() ? 0 : s.width;
    m.baseline = s.height;
    m.height = s.height + below;
    return m;
  }
  std::lock_guard<std::mutex> lock(mu_);
  SetPixelSize(face_, pixelSize);
  int ascent, descent;
  LineExtent(face_, pixelSize, ascent, descent);
  FT_Pos right = Layout(face_, text, kLoadFlags, [](FT_GlyphSlot, FT_Pos) {});
  m.width = static_cast<int>((right + 63) >> 6);
  m.baseline = ascent;
  m.height = ascent + descent;
  return m;
}

// Blends one glyph bitmap (8-bit grey or 1-bit mono coverage) over the picture.
static void BlendGlyph(cv::Mat& img, const FT_Bitmap& bm, int left, int top, const cv::Vec3b& colour) {
  const bool mono = bm.pixel_mode == FT_PIXEL_MODE_MONO;
  if (!mono && bm.pixel_mode != FT_PIXEL_MODE_GRAY) return;  // colour emoji etc.: not drawn
  const int maxGray = mono ? 1 : std::max(1, static_cast<int>(bm.num_grays) - 1);
  for (int r = 0; r < static_cast<int>(bm.rows); ++r) {
    const int y = top + r;
    if (y < 0 || y >= img.rows) continue;
    const unsigned char* src = bm.pitch >= 0 ? bm.buffer + static_cast<ptrdiff_t>(r) * bm.pitch
                                             : bm.buffer + static_cast<ptrdiff_t>(bm.rows - 1 - r) * -bm.pitch;
    auto* row = img.ptr<cv::Vec3b>(y);
    for (int c = 0; c < static_cast<int>(bm.width); ++c) {
      const int x = left + c;
      if (x < 0 || x >= img.cols) continue;
      int cov = mono ? (src[c >> 3] >> (7 - (c & 7))) & 1 : src[c];
      if (cov == 0) continue;
      const int a = cov * 255 / maxGray;
      cv::Vec3b& px = row[x];
      for (int k = 0; k < 3; ++k) px[k] = static_cast<uchar>((px[k] * (255 - a) + colour[k] * a + 127) / 255);
    }
  }
}

void TextRenderer::DrawText(cv::Mat& img, const std::string& utf8, int x, int yTop, int pixelSize,
                            const cv::Scalar& bgr) {
  CV_Assert(img.type() == CV_8UC3);
  pixelSize = std::max(1, pixelSize);
  std::vector<char32_t> text = DecodeUtf8(utf8);
  if (text.empty()) return;
  if (!face_) {
    double scale;
    int thickness, below = 0;
    HersheyParams(pixelSize, scale, thickness);
    std::string ascii = AsciiOnly(text);
    cv::Size s = cv::getTextSize(ascii, kHershey, scale, thickness, &below);
    cv::putText(img, ascii, cv::Point(x, yTop + s.height), kHershey, scale, bgr, thickness, cv::LINE_AA);
    return;
  }
  const cv::Vec3b colour(cv::saturate_cast<uchar>(bgr[0]), cv::saturate_cast<uchar>(bgr[1]),
                         cv::saturate_cast<uchar>(bgr[2]));
  std::lock_guard<std::mutex> lock(mu_);
  SetPixelSize(face_, pixelSize);
  int ascent, descent;
  LineExtent(face_, pixelSize, ascent, descent);
  const int baselineY = yTop + ascent;
  Layout(face_, text, kLoadFlags | FT_LOAD_RENDER, [&](FT_GlyphSlot g, FT_Pos pen) {
    BlendGlyph(img, g->bitmap, x + static_cast<int>((pen + 32) >> 6) + g->bitmap_left, baselineY - g->bitmap_top,
               colour);
  });
}

}  // namespace shitu
