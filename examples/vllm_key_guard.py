"""The API key on every route of a vLLM server (an ASGI middleware for `vllm serve --middleware`).

vLLM's own key check (`--api-key`, `VLLM_API_KEY`) guards only paths under `/v1` (newer versions:
`/v2`, `/inference` too). Its other routes answer anyone who can reach the port: `/invocations`
takes the same body as `/v1/completions` and answers it, `/tokenize` and `/detokenize` expose the
tokenizer. `shallot study --serve-cmd` probes those routes without the key and refuses a server
that answers (docs/security.md, "Serving a model"). With this middleware every request, on every
route, must carry `Authorization: Bearer $VLLM_API_KEY`, else 401 (a WebSocket is closed before
it is accepted):

    PYTHONPATH=/path/to/shallot/examples VLLM_API_KEY=$SHALLOT_SERVE_API_KEY \\
        vllm serve {model} --host 127.0.0.1 --port {port} --middleware vllm_key_guard.KeyOnEveryRoute

(`{model}`, `{port}`, `$SHALLOT_SERVE_API_KEY`: what `--serve-cmd` gives the command.) The key
is read from the environment, never from the command line (`ps` shows a command line to every
user of the machine). Without `VLLM_API_KEY` the server does not start. A web page that points
its own name at 127.0.0.1 (DNS rebinding) gets 401 like anyone else: it does not know the key.

Tested here against the ASGI interface only (`Tests/EndpointTests/VLLMKeyGuardTests.swift`), not
against a running vLLM. Standard library only.
"""
import hmac
import os


class KeyOnEveryRoute:
    """ASGI middleware: HTTP and WebSocket requests without the bearer key get 401 / a close."""

    def __init__(self, app):
        key = os.environ.get("VLLM_API_KEY", "")
        if not key:
            raise RuntimeError("vllm_key_guard: VLLM_API_KEY is not set; refusing to serve without a key")
        self.app = app
        self.expected = ("Bearer " + key).encode("utf-8")

    def authorised(self, scope):
        given = b""
        for name, value in scope.get("headers") or []:
            if name.lower() == b"authorization":
                if given:  # two Authorization headers: refused, whichever a framework would read
                    return False
                given = value
        return hmac.compare_digest(given, self.expected)

    async def __call__(self, scope, receive, send):
        kind = scope.get("type")
        if kind not in ("http", "websocket") or self.authorised(scope):
            await self.app(scope, receive, send)
            return
        if kind == "websocket":
            await send({"type": "websocket.close", "code": 1008})
            return
        body = b'{"error": "Unauthorized"}'
        await send({"type": "http.response.start", "status": 401,
                    "headers": [(b"content-type", b"application/json"),
                                (b"content-length", str(len(body)).encode("ascii")),
                                (b"www-authenticate", b"Bearer")]})
        await send({"type": "http.response.body", "body": body})
