// PaddleX's own YAML handling, run for real: Debian's python3 with PyYAML
// (installed by scripts/setup.sh), reading with yaml.load(FullLoader) and writing
// with yaml.dump(default_flow_style=False, allow_unicode=True), as
// paddlex/inference/utils/io/{readers,writers}.py and components/faisser.py do.
import { execFileSync } from 'node:child_process';

export const PYTHON = '/usr/bin/python3';

// Reads id_map.yaml the way PaddleX's IndexData.load does (keys through
// np.int64 -> int, labels through str()) and reports each label's Python type.
const LOAD = `
import json, sys, yaml
with open(sys.argv[1], 'r', encoding='utf-8') as f:
    info = yaml.load(f, Loader=yaml.FullLoader)
assert 'id_map' in info and 'metric_type' in info and 'index_type' in info
out = {'types': {str(int(k)): type(v).__name__ for k, v in info['id_map'].items()},
       'id_map': {str(int(k)): str(v) for k, v in info['id_map'].items()},
       'index_type': info['index_type'], 'metric_type': info['metric_type']}
print(json.dumps(out))
`;

// Writes index_info the way PaddleX's IndexData.save does.
const DUMP = `
import json, sys, yaml
spec = json.load(open(sys.argv[1], encoding='utf-8'))
info = {'index_type': spec['index_type'], 'metric_type': spec['metric_type'],
        'id_map': {int(k): str(v) for k, v in spec['id_map'].items()}}
with open(sys.argv[2], 'w', encoding='utf-8') as f:
    yaml.dump(info, f, default_flow_style=False, allow_unicode=True)
`;

export interface PaddleXIndexInfo {
  types: Record<string, string>;
  id_map: Record<string, string>;
  index_type: string;
  metric_type: string;
}

export function paddlexLoadIndexInfo(file: string): PaddleXIndexInfo {
  return JSON.parse(execFileSync(PYTHON, ['-c', LOAD, file], { encoding: 'utf8', maxBuffer: 1 << 28 }));
}

export function paddlexSaveIndexInfo(specFile: string, out: string): void {
  execFileSync(PYTHON, ['-c', DUMP, specFile, out], { encoding: 'utf8' });
}

export function havePyYaml(): boolean {
  try {
    execFileSync(PYTHON, ['-c', 'import yaml'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}
