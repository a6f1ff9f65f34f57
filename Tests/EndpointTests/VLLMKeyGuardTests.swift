// examples/vllm_key_guard.py: the key on every route of a vLLM server (issue 22 review, H1).
// vLLM is not installed here, so the middleware is driven through its ASGI interface by a few
// lines of Python standing in for vLLM's app: a route outside /v1 (`/invocations`) that answers
// anyone, as vLLM's does. Skipped where python3 cannot be run.

import Foundation
import Testing

private let examples = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent().appendingPathComponent("examples").path

private let python3Runs: Bool = {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    p.arguments = ["python3", "-c", "import asyncio, hmac"]
    p.standardOutput = FileHandle.nullDevice; p.standardError = FileHandle.nullDevice
    guard (try? p.run()) != nil else { return false }
    p.waitUntilExit()
    return p.terminationStatus == 0
}()

/// The harness: prints one line per request, `<path> <status or event> <whether the app ran>`.
private let harness = #"""
import asyncio, os, sys
sys.path.insert(0, sys.argv[1])
from vllm_key_guard import KeyOnEveryRoute

async def vllm_like(scope, receive, send):   # answers every route, /invocations included
    global ran
    ran = True
    if scope["type"] == "http":
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"{\"choices\": []}"})

async def call(mw, kind, path, headers):
    global ran
    ran, sent = False, []
    async def receive(): return {"type": "http.request", "body": b""}
    async def send(m): sent.append(m)
    await mw({"type": kind, "path": path, "headers": headers}, receive, send)
    first = sent[0] if sent else {}
    print(path, first.get("status", first.get("type", "nothing")), ran)

key = [(b"authorization", b"Bearer k3y-" + b"x" * 20)]
os.environ["VLLM_API_KEY"] = "k3y-" + "x" * 20
mw = KeyOnEveryRoute(vllm_like)
for kind, path, headers in [("http", "/invocations", []), ("http", "/tokenize", [(b"authorization", b"Bearer wrong")]),
                            ("http", "/v1/completions", key + key), ("http", "/invocations", key),
                            ("websocket", "/v1/realtime", []), ("lifespan", "", [])]:
    asyncio.run(call(mw, kind, path, headers))
del os.environ["VLLM_API_KEY"]
try:
    KeyOnEveryRoute(vllm_like)
    print("started without a key")
except RuntimeError as e:
    print("refused:", e)
"""#

@Suite struct VLLMKeyGuardTests {
    @Test(.enabled(if: python3Runs, "python3 cannot be run here"))
    func everyRouteDemandsTheKey() throws {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["python3", "-c", harness, examples]
        let out = Pipe(), err = Pipe()
        p.standardOutput = out; p.standardError = err
        try p.run()
        let text = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        let problems = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        #expect(p.terminationStatus == 0, "\(problems)")
        let lines = text.split(separator: "\n").map(String.init)
        #expect(lines == [
            "/invocations 401 False",          // vLLM's open route, without the key: refused, the app never runs
            "/tokenize 401 False",             // a wrong key
            "/v1/completions 401 False",       // two Authorization headers
            "/invocations 200 True",           // the key: through
            "/v1/realtime websocket.close False",
            " nothing True",                   // lifespan events pass
            "refused: vllm_key_guard: VLLM_API_KEY is not set; refusing to serve without a key",
        ], "\(text)\(problems)")
    }
}
