#include "harness/energy/calibration.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>
#include <thread>

#include <fmt/format.h>

#include "harness/energy/modelled.h"
#include "model/error.h"

namespace bitlab {
namespace {

using Matrix = std::vector<std::vector<double>>;

// Solves a (small, p x p) system by Gauss-Jordan elimination with partial
// pivoting; false when a pivot vanishes against the matrix's scale.
bool solve(Matrix a, std::vector<double>& b) {
  const size_t p = b.size();
  double scale = 0;
  for (const auto& row : a)
    for (double v : row) scale = std::max(scale, std::abs(v));
  for (size_t c = 0; c < p; ++c) {
    size_t piv = c;
    for (size_t r = c + 1; r < p; ++r)
      if (std::abs(a[r][c]) > std::abs(a[piv][c])) piv = r;
    if (!(std::abs(a[piv][c]) > 1e-10 * scale)) return false;
    std::swap(a[c], a[piv]);
    std::swap(b[c], b[piv]);
    for (size_t r = 0; r < p; ++r) {
      if (r == c) continue;
      const double f = a[r][c] / a[c][c];
      for (size_t k = c; k < p; ++k) a[r][k] -= f * a[c][k];
      b[r] -= f * b[c];
    }
  }
  for (size_t c = 0; c < p; ++c) b[c] /= a[c][c];
  return true;
}

// A group of domains fitted together, and what its energy is regressed on.
struct Group {
  std::string name;
  bool dram = false;  // regressors: seconds, bytes (else seconds, MACs, bytes)
  std::vector<std::string> domains;
};

std::vector<double> regressors(const Group& g, const CalibrationWindow& w) {
  if (g.dram) return {w.seconds, w.counts.dram_bytes};
  return {w.seconds, w.counts.int8_macs, w.counts.dram_bytes};
}

double group_joules(const Group& g, const CalibrationWindow& w) {
  double j = 0;
  for (const std::string& d : g.domains)
    if (const auto it = w.joules.find(d); it != w.joules.end()) j += it->second;
  return j;
}

std::vector<Group> groups_of(const std::vector<CalibrationWindow>& windows) {
  Group main{"package", false, {}}, dram{"dram", true, {}};
  for (const auto& [domain, j] : windows.front().joules)
    (domain.rfind("dram", 0) == 0 ? dram : main).domains.push_back(domain);
  std::vector<Group> out;
  if (main.domains.empty() || dram.domains.empty()) {  // one meter-wide group: everything against everything
    Group all{windows.front().joules.size() == 1 ? windows.front().joules.begin()->first : "all", false, {}};
    for (const auto& [domain, j] : windows.front().joules) all.domains.push_back(domain);
    out.push_back(all);
  } else {
    out = {main, dram};
  }
  return out;
}

struct Constants {
  double idle_watts = 0, active_watts = 0, int8_mac_pj = 0, dram_byte_pj = 0;
  std::vector<std::pair<Group, LinearFit>> fits;
};

// The constants from a set of windows (all of them, or one repetition's).
Constants fit_windows(const std::vector<CalibrationWindow>& windows, const std::vector<Group>& groups) {
  Constants c;
  for (const Group& g : groups) {
    double idle_j = 0, idle_s = 0;
    for (const auto& w : windows)
      if (w.kernel == "idle") {
        idle_j += group_joules(g, w);
        idle_s += w.seconds;
      }
    if (idle_s <= 0) throw DeviceError("calibration: no idle window to subtract");
    const double idle_w = idle_j / idle_s;
    Matrix x;
    std::vector<double> y;
    for (const auto& w : windows) {
      if (w.kernel == "idle") continue;
      x.push_back(regressors(g, w));
      y.push_back(group_joules(g, w) - idle_w * w.seconds);
    }
    LinearFit f = least_squares(x, y);
    c.idle_watts += idle_w;
    c.active_watts += f.coef[0];
    if (g.dram) {
      c.dram_byte_pj += f.coef[1] * 1e12;
    } else {
      c.int8_mac_pj += f.coef[1] * 1e12;
      c.dram_byte_pj += f.coef[2] * 1e12;
    }
    c.fits.emplace_back(g, std::move(f));
  }
  return c;
}

Interval interval(const std::vector<double>& v) {
  double mean = 0;
  for (double x : v) mean += x;
  mean /= double(v.size());
  double ss = 0;
  for (double x : v) ss += (x - mean) * (x - mean);
  const double half =
      student_t95(int(v.size()) - 1) * std::sqrt(ss / double(v.size() - 1)) / std::sqrt(double(v.size()));
  return {mean, mean - half, mean + half};
}

}  // namespace

LinearFit least_squares(const Matrix& x, const std::vector<double>& y) {
  const size_t n = y.size(), p = x.empty() ? 0 : x[0].size();
  if (n < p || p == 0) throw DeviceError(fmt::format("least squares: {} observations for {} unknowns", n, p));
  std::vector<double> scale(p, 0);
  for (const auto& row : x)
    for (size_t j = 0; j < p; ++j) scale[j] = std::max(scale[j], std::abs(row[j]));
  for (size_t j = 0; j < p; ++j)
    if (scale[j] == 0) throw DeviceError(fmt::format("least squares: regressor {} is zero in every observation", j));
  Matrix ata(p, std::vector<double>(p, 0));
  std::vector<double> aty(p, 0);
  for (size_t i = 0; i < n; ++i)
    for (size_t j = 0; j < p; ++j) {
      aty[j] += x[i][j] / scale[j] * y[i];
      for (size_t k = 0; k < p; ++k) ata[j][k] += x[i][j] / scale[j] * (x[i][k] / scale[k]);
    }
  LinearFit f;
  f.coef = aty;
  if (!solve(ata, f.coef))
    throw DeviceError(
        "least squares: the observations do not separate the unknowns (the kernels' counts are "
        "proportional to one another)");
  double mean_y = 0;
  for (double v : y) mean_y += v / double(n);
  double ss_res = 0, ss_tot = 0;
  for (size_t i = 0; i < n; ++i) {
    double fitted = 0;
    for (size_t j = 0; j < p; ++j) fitted += x[i][j] / scale[j] * f.coef[j];
    f.residuals.push_back(y[i] - fitted);
    ss_res += f.residuals.back() * f.residuals.back();
    ss_tot += (y[i] - mean_y) * (y[i] - mean_y);
  }
  f.r2 = ss_tot > 0 ? 1 - ss_res / ss_tot : 1.0;
  const double sigma2 = n > p ? ss_res / double(n - p) : std::numeric_limits<double>::quiet_NaN();
  for (size_t j = 0; j < p; ++j) {
    std::vector<double> e(p, 0);
    e[j] = 1;
    solve(ata, e);  // column j of (AᵀA)⁻¹
    f.std_error.push_back(std::sqrt(sigma2 * e[j]) / scale[j]);
    f.coef[j] /= scale[j];
  }
  return f;
}

double student_t95(int dof) {
  static const double table[] = {12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228,
                                 2.201,  2.179, 2.160, 2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086};
  if (dof < 1) throw UsageError(fmt::format("Student t with {} degrees of freedom", dof));
  if (dof <= 20) return table[dof - 1];
  return dof <= 30 ? 2.086 : dof <= 60 ? 2.042 : 2.000;  // the next table entry up: a slightly wide interval
}

std::vector<CalibrationWindow> measure_calibration_windows(
    EnergyMeter& meter, const std::vector<CalibrationKernel>& kernels, const CalibrationOptions& o,
    const std::function<void(double, const std::string&)>& progress) {
  if (o.repetitions < 2) throw UsageError("calibration needs at least 2 repetitions (for the interval)");
  const double window = std::max(o.window_s, meter.min_window_seconds());
  std::vector<CalibrationWindow> out;
  const size_t total = kernels.size() * size_t(o.repetitions);
  for (int rep = 0; rep < o.repetitions; ++rep)
    for (const CalibrationKernel& k : kernels) {
      if (progress) progress(double(out.size()) / double(total), fmt::format("{} (repetition {})", k.name, rep + 1));
      CalibrationWindow w;
      w.kernel = k.name;
      w.repetition = rep;
      meter.start();
      const double t0 = steady_seconds();
      if (!k.run) {
        std::this_thread::sleep_for(std::chrono::duration<double>(window));
      } else {
        while (steady_seconds() - t0 < window) {
          const OpCounts n = k.run();
          w.counts += n;
          meter.count(n);
          meter.poll();
        }
      }
      const EnergyReading r = meter.stop();
      w.seconds = r.seconds;
      w.joules = r.joules;
      out.push_back(std::move(w));
    }
  return out;
}

CalibrationResult fit_calibration(const std::vector<CalibrationWindow>& windows) {
  if (windows.empty()) throw DeviceError("calibration: no windows measured");
  const std::vector<Group> groups = groups_of(windows);
  const Constants all = fit_windows(windows, groups);
  CalibrationResult r;
  r.idle_watts = all.idle_watts;
  r.active_watts = all.active_watts;
  r.int8_mac_pj = all.int8_mac_pj;
  r.dram_byte_pj = all.dram_byte_pj;

  int reps = 0;
  for (const auto& w : windows) reps = std::max(reps, w.repetition + 1);
  if (reps < 2) throw DeviceError("calibration: fewer than 2 repetitions, no interval");
  std::map<std::string, std::vector<double>> per_rep;
  for (int rep = 0; rep < reps; ++rep) {
    std::vector<CalibrationWindow> mine;
    for (const auto& w : windows)
      if (w.repetition == rep) mine.push_back(w);
    const Constants c = fit_windows(mine, groups);
    per_rep["idle_watts"].push_back(c.idle_watts);
    per_rep["active_watts"].push_back(c.active_watts);
    per_rep["static_watts"].push_back(c.idle_watts + c.active_watts);
    per_rep["int8_mac_pj"].push_back(c.int8_mac_pj);
    per_rep["dram_byte_pj"].push_back(c.dram_byte_pj);
  }
  nlohmann::json intervals = nlohmann::json::object();
  for (const auto& [name, v] : per_rep) {
    r.intervals[name] = interval(v);
    intervals[name] = {{"mean", r.intervals[name].estimate},
                       {"low", r.intervals[name].low},
                       {"high", r.intervals[name].high},
                       {"per_repetition", v}};
  }

  r.worst_r2 = 1;
  nlohmann::json fits = nlohmann::json::array();
  for (const auto& [g, f] : all.fits) {
    r.worst_r2 = std::min(r.worst_r2, f.r2);
    const std::vector<std::string> names =
        g.dram ? std::vector<std::string>{"active_watts", "joules_per_byte"}
               : std::vector<std::string>{"active_watts", "joules_per_mac", "joules_per_byte"};
    nlohmann::json coef = nlohmann::json::object(), se = nlohmann::json::object();
    for (size_t j = 0; j < names.size(); ++j) {
      coef[names[j]] = f.coef[j];
      if (std::isfinite(f.std_error[j])) se[names[j]] = f.std_error[j];
    }
    fits.push_back({{"group", g.name},
                    {"domains", g.domains},
                    {"coefficients", coef},
                    {"standard_errors", se},
                    {"r2", f.r2},
                    {"residuals_joules", f.residuals}});
  }
  std::vector<std::string> kernels;
  for (const auto& w : windows)
    if (std::find(kernels.begin(), kernels.end(), w.kernel) == kernels.end()) kernels.push_back(w.kernel);
  r.report = {{"windows", windows.size()}, {"repetitions", reps},
              {"kernels", kernels},        {"fits", fits},
              {"confidence", 0.95},        {"intervals_over_repetitions", intervals}};
  return r;
}

EnergyProfile calibration_profile(const CalibrationResult& r, const std::string& kind, const std::string& model,
                                  const std::string& meter, const std::string& date) {
  const std::pair<const char*, double> fitted[] = {{"energy per int8 MAC (pJ)", r.int8_mac_pj},
                                                   {"energy per DRAM byte (pJ)", r.dram_byte_pj},
                                                   {"static power (W)", r.static_watts()}};
  for (const auto& [what, v] : fitted)
    if (!(v >= 0) || !std::isfinite(v))
      throw DeviceError(
          fmt::format("calibration: the fitted {} is {:.4g}, not a usable constant: the windows are "
                      "too noisy (try longer windows or more repetitions)",
                      what, v));
  EnergyProfile p;
  p.device_kind = kind;
  p.device_model = model;
  p.meter = meter;
  p.date = date;
  p.int8_mac_pj = r.int8_mac_pj;
  p.dram_byte_pj = r.dram_byte_pj;
  p.static_watts = r.static_watts();
  p.idle_watts = std::clamp(r.idle_watts, 0.0, p.static_watts);
  p.float_op_pj = kHorowitz45nm.float_op_pj;
  p.fit = r.report;
  return p;
}

}  // namespace bitlab
