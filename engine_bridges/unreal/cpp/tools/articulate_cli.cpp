// articulate_cli: drives articulate::Client from the command line (used by tests/server/test_cpp_client.py).
//
//   articulate_cli health --target HOST:PORT
//   articulate_cli rig  --target HOST:PORT [--token T] --mesh mesh.bin [--format usda]... [--out-dir D]
//                       [--deadline-ms N] [--cancel-after-progress N] [--include-mesh]
//   articulate_cli rig-upload --target HOST:PORT [--token T] --file asset.obj [--format glb]... [--out-dir D]
//   articulate_cli prop --target HOST:PORT [--token T] --mesh mesh.bin (--all-parts | --part NAME...) [--format urdf]...
//
// mesh.bin (little-endian): u32 V, u32 F, u32 P; f64 vertices[V*3]; u32 faces[F*3]; i32 labels[V];
// then P names, each u32 length + bytes. Prints one JSON line with the outcome.
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include "articulate/client.h"

namespace {

std::string JsonEscape(const std::string& s) {
  std::string o;
  for (char c : s) {
    if (c == '"' || c == '\\') { o += '\\'; o += c; }
    else if (c == '\n') o += "\\n";
    else if (static_cast<unsigned char>(c) < 0x20) { char b[8]; std::snprintf(b, sizeof b, "\\u%04x", c); o += b; }
    else o += c;
  }
  return o;
}

bool ReadFile(const std::string& path, std::string* out) {
  std::ifstream f(path, std::ios::binary);
  if (!f) return false;
  std::ostringstream ss;
  ss << f.rdbuf();
  *out = ss.str();
  return true;
}

bool ReadMesh(const std::string& path, articulate::MeshData* m) {
  std::string stem = path.substr(path.find_last_of('/') + 1);
  m->name = stem.substr(0, stem.find_last_of('.'));  // the mesh is named after its file, as the SDK's readers do
  std::string b;
  if (!ReadFile(path, &b) || b.size() < 12) return false;
  size_t at = 0;
  auto u32 = [&](uint32_t* v) { if (at + 4 > b.size()) return false; std::memcpy(v, b.data() + at, 4); at += 4; return true; };
  uint32_t V, F, P;
  if (!u32(&V) || !u32(&F) || !u32(&P)) return false;
  auto take = [&](void* dst, size_t n) { if (at + n > b.size()) return false; std::memcpy(dst, b.data() + at, n); at += n; return true; };
  m->vertices.resize(size_t(V) * 3);
  m->faces.resize(size_t(F) * 3);
  m->part_labels.resize(V);
  if (!take(m->vertices.data(), m->vertices.size() * 8) || !take(m->faces.data(), m->faces.size() * 4) ||
      !take(m->part_labels.data(), m->part_labels.size() * 4)) return false;
  for (uint32_t i = 0; i < P; ++i) {
    uint32_t n;
    if (!u32(&n) || at + n > b.size()) return false;
    m->part_names.emplace_back(b.data() + at, n);
    at += n;
  }
  return true;
}

void PrintStatus(std::ostream& os, const articulate::Status& s) {
  os << "\"code\":" << s.code << ",\"message\":\"" << JsonEscape(s.message) << "\",\"field\":\""
     << JsonEscape(s.field) << "\",\"in_band\":" << (s.in_band ? "true" : "false");
}

void WriteFiles(std::ostream& os, const std::map<std::string, std::string>& files, const std::string& dir) {
  os << ",\"files\":{";
  bool first = true;
  for (const auto& kv : files) {
    if (!dir.empty()) {
      std::ofstream f(dir + "/" + kv.first, std::ios::binary);
      f.write(kv.second.data(), static_cast<std::streamsize>(kv.second.size()));
    }
    os << (first ? "" : ",") << "\"" << JsonEscape(kv.first) << "\":{\"size\":" << kv.second.size()
       << ",\"sha256\":\"" << articulate::Sha256Hex(kv.second) << "\"}";
    first = false;
  }
  os << "}";
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::cerr << "usage: articulate_cli health|rig|rig-upload|prop --target HOST:PORT ...\n";
    return 2;
  }
  std::string cmd = argv[1], target, token, mesh_path, file_path, out_dir;
  std::vector<std::string> formats, parts;
  double deadline_ms = 0;
  int cancel_after = -1;
  bool include_mesh = false, all_parts = false;
  for (int i = 2; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) { std::cerr << "missing value for " << a << "\n"; std::exit(2); }
      return argv[++i];
    };
    if (a == "--target") target = next();
    else if (a == "--token") token = next();
    else if (a == "--mesh") mesh_path = next();
    else if (a == "--file") file_path = next();
    else if (a == "--format") formats.push_back(next());
    else if (a == "--out-dir") out_dir = next();
    else if (a == "--deadline-ms") deadline_ms = std::stod(next());
    else if (a == "--cancel-after-progress") cancel_after = std::stoi(next());
    else if (a == "--include-mesh") include_mesh = true;
    else if (a == "--all-parts") all_parts = true;
    else if (a == "--part") parts.push_back(next());
    else { std::cerr << "unknown argument " << a << "\n"; return 2; }
  }
  if (target.empty()) { std::cerr << "--target is required\n"; return 2; }
  articulate::Client client(target, token);
  if (cmd == "health") {
    std::cout << "{\"health\":\"" << JsonEscape(client.Health()) << "\"}" << std::endl;
    return 0;
  }
  articulate::CallOptions call;
  call.deadline_seconds = deadline_ms / 1000.0;
  call.cancel = std::make_shared<articulate::CancelToken>();
  int seen = 0;
  double last = -1;
  bool monotonic = true;
  call.on_progress = [&](double f, const std::string&) {
    if (f < last) monotonic = false;
    last = f;
    if (++seen == cancel_after) call.cancel->Cancel();
  };
  std::ostringstream os;
  os << "{";
  if (cmd == "rig" || cmd == "rig-upload") {
    articulate::RigOptions opts;
    opts.formats = formats;
    opts.include_mesh = include_mesh;
    articulate::RigResult r;
    if (cmd == "rig") {
      articulate::MeshData mesh;
      if (!ReadMesh(mesh_path, &mesh)) { std::cerr << "cannot read --mesh " << mesh_path << "\n"; return 2; }
      r = client.RigMesh(mesh, opts, call);
    } else {
      std::string data;
      if (!ReadFile(file_path, &data)) { std::cerr << "cannot read --file " << file_path << "\n"; return 2; }
      articulate::Status up;
      std::string name = file_path.substr(file_path.find_last_of('/') + 1);
      std::string uid = client.Upload(data, name, "application/octet-stream", &up);
      if (uid.empty()) { os << "\"stage\":\"upload\","; PrintStatus(os, up); std::cout << os.str() << "}" << std::endl; return 1; }
      r = client.RigUpload(uid, opts, call);
    }
    PrintStatus(os, r.status);
    os << ",\"job_id\":\"" << r.job_id << "\",\"joints\":[";
    for (size_t j = 0; j < r.joint_names.size(); ++j) os << (j ? "," : "") << "\"" << JsonEscape(r.joint_names[j]) << "\"";
    os << "],\"influences\":" << r.influences << ",\"skin_rows\":"
       << (r.influences ? r.skin_weights.size() / r.influences : 0) << ",\"chunked\":" << (r.chunked_result ? "true" : "false");
    double wsum = 0;
    for (float w : r.skin_weights) wsum += w;
    os << ",\"weight_sum\":" << wsum;
    WriteFiles(os, r.files, out_dir);
  } else if (cmd == "prop") {
    articulate::MeshData mesh;
    if (!ReadMesh(mesh_path, &mesh)) { std::cerr << "cannot read --mesh " << mesh_path << "\n"; return 2; }
    articulate::PropOptions opts;
    opts.all_parts = all_parts;
    opts.parts = parts;
    opts.formats = formats;
    articulate::ArticulationResult r = client.ArticulateProp(mesh, opts, call);
    PrintStatus(os, r.status);
    os << ",\"links\":" << r.links.size() << ",\"joints\":[";
    for (size_t j = 0; j < r.joints.size(); ++j) {
      const auto& jt = r.joints[j];
      os << (j ? "," : "") << "{\"name\":\"" << JsonEscape(jt.name) << "\",\"type\":\"" << jt.type << "\",\"child\":\""
         << JsonEscape(jt.child) << "\",\"axis\":[" << jt.axis[0] << "," << jt.axis[1] << "," << jt.axis[2] << "]}";
    }
    os << "]";
    WriteFiles(os, r.files, out_dir);
  } else {
    std::cerr << "unknown command " << cmd << "\n";
    return 2;
  }
  os << ",\"progress_events\":" << seen << ",\"progress_monotonic\":" << (monotonic ? "true" : "false") << "}";
  std::cout << os.str() << std::endl;
  return 0;
}
