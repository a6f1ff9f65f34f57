import Audit
import Foundation
@testable import Report
import Testing

/// An audit.json whose every corpus- or model-derived string is hostile markup.
let hostile = "<script>document.body.setAttribute('data-pwned','1')</script>"
let attrBreak = "\"><img src=x onerror=\"document.body.setAttribute('data-pwned','1')\">"

func sampleReport() throws -> AuditReport {
    let json = """
    {"schema":"shallot.audit/2","software":"shallot test","created":"2026-11-29T00:00:00Z",
     "settings":{"attacks":["extraction","exposure","mia","canaries","untargeted","association"],"types":["EMAIL_ADDRESS"],
       "extraction":{"prefix_lengths":[10,50],"samples":2,"top_k":40,"margin":8,"seed":0,"occurrences_per_value":3,"batch":32},
       "untargeted":{"prompts":4,"samples_per_prompt":1,"top_k":40,"new_tokens":16,"window_tokens":10,"seed":0,"top_m":[10,50]},
       "exposure_values":2,"exposure_candidates":10,"exposure_context_tokens":64,"bootstrap_resamples":10,"seed":1,"reveal_pii":false},
     "model":{"path":\(q(attrBreak))},"corpus":{"path":\(q(hostile)),"records":"3"},
     "summary":{"values":2,"extracted_values":1,"extraction_rate":0.5,"subjects":2,"vulnerable_subjects":1,"unowned_values":0,"unowned_extracted":0},
     "extraction_by_duplication":{"1":{"values":1,"extracted":0},">20":{"values":1,"extracted":1}},
     "targeted_lineage":{"finetuning":1,"both":0,"pretraining":0,"neither":0},
     "values":[{"id":"ab12","type":"EMAIL_ADDRESS","masked":\(q(hostile)),"owner":\(q(attrBreak)),"occurrences":30,"extracted":true,
                "smallest_extracting_k":10,"log_likelihood_per_token":-0.1,"lineage":"finetuning",
                "exposure":{"log_likelihood":-3,"rank_among_sampled":1,"sampled_candidates":10,"space_size":1e9,"exposure":3.46,"exposure_ci_95":{"low":1.9,"high":29.9},"exposure_normal_fit":31}},
               {"id":"cd34","type":"EMAIL_ADDRESS","masked":"d***@x.com","owner":"s2","occurrences":1,"extracted":false,"log_likelihood_per_token":-4.5}],
     "subjects":[{"subject":\(q(hostile)),"masked":\(q(attrBreak)),"records":2,"values":1,"extracted_values":1,"vulnerable":true,"score":-0.1,"max_exposure":29.9},
                 {"subject":"s2","masked":"d***","records":1,"values":1,"extracted_values":0,"vulnerable":false,"score":-4.5}],
     "membership_inference":{"loss":{"auc":0.8,"tpr_at_1pct_fpr":0.2,"tpr_at_0.1pct_fpr":0.1,"members":3,"non_members":3,
        "auc_ci_95":{"low":0.6,"high":0.95},"roc":{"fpr":[0,0.33,1],"tpr":[0,0.66,1]}}},
     "canaries":[{"secret_hash":"ff","repeats":20,"member":true,"extracted":true,
        "exposure":{"log_likelihood":-1,"rank_among_sampled":1,"sampled_candidates":10,"space_size":1e9,"exposure":"inf","exposure_ci_95":{"low":1.9,"high":29.9},"exposure_normal_fit":40}}],
     "untargeted":{"settings":{"prompts":4,"samples_per_prompt":1,"top_k":40,"new_tokens":16,"window_tokens":10,"seed":0,"top_m":[10,50]},
        "prompts":4,"generations":8,"distinct_generations":7,"candidates":2,"distinct_values":1,"distinct_training_values":1,"precision_at_m":{"perplexity":{"10":1}},
        "attribution":{"finetuning":1,"pretraining":0,"both":0,"neither":0},
        "values":[{"type":"EMAIL_ADDRESS","id":"ab12","masked":\(q(hostile)),"in_training":true,"scores":{"perplexity":-0.2}}]},
     "association":{"pairs":2,"associated":1,"hits_by_template":{\(q(hostile)):1},"associated_by_setting":{"zero_shot":1}}}
    """
    let d = JSONDecoder()
    d.nonConformingFloatDecodingStrategy = .convertFromString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
    return try d.decode(AuditReport.self, from: Data(json.utf8))
}

func q(_ s: String) -> String { String(decoding: try! JSONEncoder().encode(s), as: UTF8.self) }

@Test func escapingCoversTextAndAttributes() {
    #expect(esc("<a href=\"x\">'&'</a>") == "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;")
    #expect(esc("a\u{0}b") == "a&#xFFFD;b")
    #expect(esc("Zoë ✓") == "Zoë ✓")
}

@Test func auditPageEscapesEverythingFromTheReport() throws {
    let html = AuditHTML.render(try sampleReport())
    #expect(!html.contains(hostile))
    #expect(!html.contains("<img"))
    #expect(!html.contains("onerror=\""))
    #expect(html.contains("&lt;script&gt;document.body.setAttribute(&#39;data-pwned&#39;"))
    // exactly one script element: the page's own
    #expect(html.components(separatedBy: "<script").count == 2)
    // the charts are there
    #expect(html.components(separatedBy: "<svg").count - 1 >= 5)
    #expect(html.contains("1 of 2 people"))
    // no external resource
    #expect(!html.contains("http://") || html.components(separatedBy: "http://").count - 1 == html.components(separatedBy: "http://www.w3.org/2000/svg").count - 1)
    #expect(!html.contains("https://"))
}

/// Chromium, if it can be found.
let chromium: String? = ["/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome", "/usr/bin/chromium-headless-shell"]
    .first { FileManager.default.isExecutableFile(atPath: $0) }

@Test(.enabled(if: chromium != nil, "Chromium is not installed (apt-get install chromium): the browser check of audit.html is skipped"))
func auditPageRunsInHeadlessChromiumWithoutErrors() throws {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("shallot-report-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: dir) }
    let file = dir.appendingPathComponent("audit.html")
    try Data(AuditHTML.render(try sampleReport()).utf8).write(to: file)
    let p = Process()
    p.executableURL = URL(fileURLWithPath: chromium!)
    p.arguments = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run", "--user-data-dir=" + dir.appendingPathComponent("profile").path,
                   "--virtual-time-budget=2000", "--dump-dom", file.absoluteString]
    let out = Pipe(), err = Pipe()
    p.standardOutput = out; p.standardError = err
    try p.run()
    let dom = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    _ = err.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    #expect(p.terminationStatus == 0)
    #expect(dom.contains("data-shallot-ready=\"1\""), "the page's script did not finish")
    #expect(!dom.contains("data-shallot-errors=\""), "script error: \(dom.components(separatedBy: "data-shallot-errors=").dropFirst().first?.prefix(200) ?? "")")
    #expect(!dom.contains("data-pwned=\"1\""), "injected markup ran")
    #expect(dom.contains("class=\"sorted-desc\"") || dom.contains("class=\"l sorted-desc\""), "the sortable table did not sort")
}

/// The headline weighs every attack: nothing extracted is not "no leak" when exposure shows the
/// model prefers the true values, and a missing attack is never a pass.
func headlineReport(firstRanked: Int, values: Int, attacks: [String], mia: Double?) throws -> AuditReport {
    let rows = (0..<values).map { i in
        let rank = i < firstRanked ? 1 : 1 + (i % 40)
        return #"{"id":"v\#(i)","type":"PHONE_NUMBER","masked":"***","owner":"s\#(i)","occurrences":3,"extracted":false,"#
            + #""exposure":{"log_likelihood":-3,"rank_among_sampled":\#(rank),"sampled_candidates":50,"space_size":1e10,"exposure":1,"exposure_ci_95":{"low":0.5,"high":2},"exposure_normal_fit":2}}"#
    }.joined(separator: ",")
    let miaJSON = mia.map { #","membership_inference":{"loss":{"auc":\#($0),"tpr_at_1pct_fpr":0.0,"tpr_at_0.1pct_fpr":0.0,"members":100,"non_members":100,"auc_ci_95":{"low":\#($0 - 0.04),"high":\#($0 + 0.04)}}}"# } ?? ""
    let json = """
    {"schema":"shallot.audit/2","software":"t","created":"t","settings":{"attacks":\(q2(attacks)),"types":["PHONE_NUMBER"],
     "extraction":{"prefix_lengths":[10],"samples":0,"top_k":40,"margin":8,"seed":0,"occurrences_per_value":3,"batch":32},
     "untargeted":{"prompts":4,"samples_per_prompt":1,"top_k":40,"new_tokens":16,"window_tokens":10,"seed":0,"top_m":[10]},
     "exposure_values":\(values),"exposure_candidates":50,"exposure_context_tokens":64,"bootstrap_resamples":10,"seed":1,"reveal_pii":false},
     "model":{},"corpus":{},"summary":{"values":\(values),"extracted_values":0,"extraction_rate":0,"subjects":\(values),"vulnerable_subjects":0,"unowned_values":0,"unowned_extracted":0},
     "extraction_by_duplication":{},"values":[\(rows)],"subjects":[]\(miaJSON)}
    """
    return try JSONDecoder().decode(AuditReport.self, from: Data(json.utf8))
}
func q2(_ a: [String]) -> String { String(decoding: try! JSONEncoder().encode(a), as: UTF8.self) }

@Test func theHeadlineWeighsAllTheEvidence() throws {
    let all = ["extraction", "exposure", "mia"]
    // Dozens of true values rank first among 50 candidates, none extracted: a signal, not green.
    let first = try headlineReport(firstRanked: 30, values: 40, attacks: all, mia: 0.52).assessHeadline()
    #expect(first.level == .signal)
    #expect(first.findings.contains { $0.hasPrefix("Exposure: 30 of 40") && $0.contains("prefers the true values") })
    let html = AuditHTML.render(try headlineReport(firstRanked: 30, values: 40, attacks: all, mia: 0.52))
    #expect(!html.contains("class=\"verdict-ok\"") && html.contains("class=\"verdict-warn\"") && html.contains("not leak-free"))
    // Ranks spread as chance would have them, MIA at chance: no leak found.
    let none = try headlineReport(firstRanked: 0, values: 40, attacks: all, mia: 0.5).assessHeadline()
    #expect(none.level == .noLeakFound)
    // A clear MIA signal alone is a signal; so is an AUC well below 0.5.
    #expect(try headlineReport(firstRanked: 0, values: 40, attacks: all, mia: 0.7).assessHeadline().level == .signal)
    #expect(try headlineReport(firstRanked: 0, values: 40, attacks: all, mia: 0.3).assessHeadline().level == .signal)
    // Without membership inference nothing can be called clean.
    #expect(try headlineReport(firstRanked: 0, values: 40, attacks: ["extraction", "exposure"], mia: nil).assessHeadline().level == .inconclusive)
    // An attack this version does not know is an error where audit.json is read, never dropped.
    #expect(throws: DecodingError.self) { try headlineReport(firstRanked: 0, values: 4, attacks: ["extraction", "teleport"], mia: nil) }
}
