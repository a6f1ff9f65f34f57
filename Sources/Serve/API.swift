// The wire types of the OpenAI-compatible API: the legacy completions request and response,
// vLLM's /tokenize and /detokenize shapes, and OpenAI-style errors.

import Foundation

/// An error answered to the client as `{"error": {"message", "type", "param", "code"}}`.
public struct APIError: Error, Sendable, CustomStringConvertible {
    public var status: Int
    public var message: String
    public var type: String
    public var param: String?
    public var code: String?
    /// Seconds a client should wait before trying again: sent as `Retry-After` (a 429).
    public var retryAfter: Int?

    public init(_ status: Int, _ message: String, type: String = "invalid_request_error", param: String? = nil, code: String? = nil,
                retryAfter: Int? = nil) {
        self.status = status; self.message = message; self.type = type; self.param = param; self.code = code; self.retryAfter = retryAfter
    }
    public var description: String { "\(status) \(type): \(message)" }

    static func invalid(_ message: String, param: String? = nil, code: String? = nil) -> APIError { APIError(400, message, param: param, code: code) }

    struct Body: Encodable {
        struct Inner: Encodable {
            let message: String, type: String, param: String?, code: String?
            func encode(to encoder: any Encoder) throws {
                var c = encoder.container(keyedBy: CodingKeys.self)
                try c.encode(message, forKey: .message); try c.encode(type, forKey: .type)
                try c.encode(param, forKey: .param); try c.encode(code, forKey: .code)
            }
            enum CodingKeys: String, CodingKey { case message, type, param, code }
        }
        let error: Inner
    }
    var body: Body { Body(error: .init(message: message, type: type, param: param, code: code)) }
}

/// A prompt as OpenAI accepts it: a string, an array of strings, an array of token ids, or an
/// array of arrays of token ids.
public enum PromptInput: Decodable, Sendable, Equatable {
    case texts([String])
    case tokens([[Int32]])

    public init(from decoder: any Decoder) throws {
        let c = try decoder.singleValueContainer()
        if let s = try? c.decode(String.self) { self = .texts([s]); return }
        if let a = try? c.decode([String].self) { self = .texts(a); return }
        if let a = try? c.decode([Int32].self) { self = .tokens([a]); return }
        if let a = try? c.decode([[Int32]].self) { self = .tokens(a); return }
        throw DecodingError.typeMismatch(PromptInput.self, .init(codingPath: c.codingPath,
            debugDescription: "prompt must be a string, an array of strings, an array of token ids or an array of arrays of token ids"))
    }

    public var count: Int {
        switch self { case .texts(let t): t.count; case .tokens(let t): t.count }
    }
}

/// `stop`: a string or an array of strings.
struct StopInput: Decodable, Sendable {
    var values: [String]
    init(from decoder: any Decoder) throws {
        let c = try decoder.singleValueContainer()
        if let s = try? c.decode(String.self) { values = [s]; return }
        values = try c.decode([String].self)
    }
}

/// `POST /v1/completions` (unknown fields are ignored, as OpenAI's and vLLM's servers do).
struct CompletionRequest: Decodable, Sendable {
    var model: String?
    var prompt: PromptInput
    var max_tokens: Int?
    var temperature: Float?
    var top_p: Float?
    var top_k: Int?
    var seed: UInt64?
    var stop: StopInput?
    var n: Int?
    var logprobs: Int?
    var echo: Bool?
    var ignore_eos: Bool?
    var return_tokens_as_token_ids: Bool?
    var stream: Bool?
}

struct TokenizeRequest: Decodable, Sendable {
    var model: String?
    var prompt: String
    var add_special_tokens: Bool?
}

struct TokenizeResponse: Encodable, Sendable {
    var tokens: [Int32]
    var count: Int
    var max_model_len: Int
}

struct DetokenizeRequest: Decodable, Sendable {
    var model: String?
    var tokens: [Int32]
}

struct DetokenizeResponse: Encodable, Sendable {
    var prompt: String
}

struct ModelList: Encodable, Sendable {
    struct Card: Encodable, Sendable {
        var id: String
        var object = "model"
        var created: Int
        var owned_by = "shallot"
        var root: String
        var max_model_len: Int
    }
    var object = "list"
    var data: [Card]
}

/// The legacy completions response.
struct CompletionResponse: Encodable, Sendable {
    struct Logprobs: Encodable, Sendable {
        var tokens: [String]
        /// null for the first prompt token under `echo` (nothing precedes it).
        var token_logprobs: [Float?]
        var top_logprobs: [[String: Float]?]
        var text_offset: [Int]
    }
    struct Choice: Encodable, Sendable {
        var index: Int
        var text: String
        var logprobs: Logprobs?
        var finish_reason: String?
        enum CodingKeys: String, CodingKey { case index, text, logprobs, finish_reason }
        func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(index, forKey: .index); try c.encode(text, forKey: .text)
            try c.encode(logprobs, forKey: .logprobs); try c.encode(finish_reason, forKey: .finish_reason)
        }
    }
    struct Usage: Encodable, Sendable {
        var prompt_tokens: Int
        var completion_tokens: Int
        var total_tokens: Int
    }
    var id: String
    var object = "text_completion"
    var created: Int
    var model: String
    var choices: [Choice]
    var usage: Usage
}
