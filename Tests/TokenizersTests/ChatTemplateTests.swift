import Foundation
import GGUF
import Testing
@testable import Tokenizers

/// Chat formatting against llama.cpp's `llama_chat_apply_template` (Fixtures/chat-templates.json):
/// every built-in template name, Jinja snippets that select each family, the real models'
/// templates, and a template llama.cpp does not recognise.
@Suite struct ChatTemplateTests {
    static func load() throws -> [[String: Any]] {
        let path = "\(TokFixtures.fixturesDir)/chat-templates.json"
        guard let data = FileManager.default.contents(atPath: path) else {
            throw TokFixtures.Missing(description: "\(path) missing: run scripts/make-tokenizer-fixtures.sh")
        }
        return try JSONSerialization.jsonObject(with: data) as? [[String: Any]] ?? []
    }

    @Test func matchesLlamaCpp() throws {
        let all = try Self.load()
        #expect(all.count >= 40)
        for entry in all {
            let template = entry["template"] as? String ?? ""
            let results = entry["results"] as? [[String: Any]] ?? []
            let family = ChatTemplate.detect(template)
            let known = results.contains { $0["result"] is String }
            #expect((family != nil) == known, "detection of \(template.prefix(60).debugDescription)")
            guard let family else { continue }
            for r in results {
                let messages = (r["messages"] as? [[String: String]] ?? []).map { (role: $0["role"]!, content: $0["content"]!) }
                let expected = r["result"] as? String
                #expect(family.apply(messages, addAssistantPrompt: r["add_assistant"] as? Bool ?? false) == expected,
                        "\(family) on \(template.prefix(40).debugDescription)")
            }
        }
    }

    @Test func familiesOfKnownTemplates() {
        #expect(ChatTemplate.detect("chatml") == .chatml)
        #expect(ChatTemplate.detect("{{'<|im_start|>' + message['role']}}") == .chatml)
        #expect(ChatTemplate.detect("{{ '<start_of_turn>' + role }}") == .gemma)
        #expect(ChatTemplate.detect("<|start_header_id|>{{ role }}<|end_header_id|>") == .llama3)
        #expect(ChatTemplate.detect("[INST] {{ content }} [/INST]") == .llama2)
        #expect(ChatTemplate.detect("<|user|>{{ x }}<|end|><|assistant|>") == .phi3)
        #expect(ChatTemplate.detect("{{ messages }}") == nil)
    }

    @Test func gemmaFormat() {
        let s = ChatTemplate.gemma.apply([(role: "system", content: " Be brief. "), (role: "user", content: "Hi"),
                                          (role: "assistant", content: "Hello")], addAssistantPrompt: true)
        #expect(s == "<start_of_turn>user\nBe brief.\n\nHi<end_of_turn>\n<start_of_turn>model\nHello<end_of_turn>\n<start_of_turn>model\n")
    }

    @Test(.enabled(if: TokFixtures.hasModels, TokFixtures.skipMessage))
    func realModels() throws {
        let smol = try TokFixtures.model(TokFixtures.smol)
        let qwen = try TokFixtures.model(TokFixtures.qwen)
        #expect(smol.chatTemplateFamily == .chatml)
        #expect(qwen.chatTemplateFamily == .chatml)
        let prompt = try qwen.applyChatTemplate([(role: "user", content: "Hi")], addAssistantPrompt: true)
        #expect(prompt == "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n")
        // The markup becomes control tokens only with parseSpecial.
        let ids = qwen.encode(prompt, addSpecial: true, parseSpecial: true)
        #expect(ids.first == 151644 && ids.contains(151645))
        #expect(!qwen.encode(prompt, addSpecial: true, parseSpecial: false).contains(151644))

        // This Gemma 3 GGUF carries no tokenizer.chat_template: a clear error, and the family
        // can still be chosen explicitly.
        let gemma = try TokFixtures.model(TokFixtures.gemma)
        #expect(gemma.chatTemplate == nil)
        let error = #expect(throws: (any Error).self) {
            try gemma.applyChatTemplate([(role: "user", content: "Hi")], addAssistantPrompt: true)
        }
        #expect("\(error!)".contains("no chat template"))
        let turns = ChatTemplate.gemma.apply([(role: "user", content: "Hi")], addAssistantPrompt: true)
        #expect(gemma.encode(turns, parseSpecial: true).prefix(2) == [2, 105])  // <bos> <start_of_turn>
    }

    @Test func unknownTemplateIsAnError() throws {
        let md: GGUFMetadata = [
            "tokenizer.ggml.model": .string("llama"),
            "tokenizer.ggml.tokens": .array(.string(["<unk>", "<s>", "</s>", "a"])),
            "tokenizer.chat_template": .string("{% for m in messages %}{{ m.content }}{% endfor %}"),
        ]
        let tok = try Tokenizer(metadata: md, path: "x.gguf")
        let error = #expect(throws: (any Error).self) {
            try tok.applyChatTemplate([(role: "user", content: "Hi")], addAssistantPrompt: true)
        }
        #expect("\(error!)".contains("unsupported chat template"))
    }
}
