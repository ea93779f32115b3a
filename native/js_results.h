// JS objects for what detect, embed and recognize return alike (js_detector.cc,
// js_feature_extractor.cc, js_recognize.cc): stage timings, a detection, a
// resolved pre-processing.
#pragma once
#include <napi.h>

#include "detector.h"
#include "preprocess.h"
#include "stage_times.h"

namespace shitu {
// {decode, detPreprocess, ..., total}: the names of ForEachStage (stage_times.h).
Napi::Object TimesToJs(Napi::Env env, const StageTimes& t);
// {classId, score, coordinate: [x1, y1, x2, y2]}
Napi::Object DetectionToJs(Napi::Env env, const Detection& d);
// {width, height, keepRatio, channelOrder}
Napi::Object ResolvedPreprocess(Napi::Env env, const PreprocessSpec& p);
}  // namespace shitu
