import QKCore

/// Chat formatting the way llama.cpp's `llama_chat_apply_template` does it: the template
/// family is recognised from marker strings in the Jinja template (`llm_chat_detect_template`)
/// and the conversation is written by a fixed recipe for that family. No Jinja is run, so
/// default system prompts and other template logic are not reproduced — exactly as in
/// llama.cpp's simple chat API.
public enum ChatTemplate: String, Sendable, CaseIterable {
    case chatml, llama2, llama2Sys = "llama2-sys", llama2SysBOS = "llama2-sys-bos"
    case llama2SysStrip = "llama2-sys-strip", mistralV1 = "mistral-v1", mistralV3 = "mistral-v3"
    case mistralV3Tekken = "mistral-v3-tekken", mistralV7 = "mistral-v7", mistralV7Tekken = "mistral-v7-tekken"
    case phi3, phi4, falcon3, zephyr, monarch, gemma, orion, openchat, vicuna, vicunaOrca = "vicuna-orca"
    case deepseek, deepseek2, deepseek3, commandR = "command-r", llama3, chatglm3, chatglm4, glmedge
    case minicpm, exaone3, granite, llama4, smolvlm, gptOSS = "gpt-oss"

    /// The family of a Jinja template (or of a built-in template name such as "chatml"),
    /// following `llm_chat_detect_template`; nil when llama.cpp would not know it either.
    public static func detect(_ template: String) -> ChatTemplate? {
        if let named = ChatTemplate(rawValue: template) { return named }
        func has(_ s: String) -> Bool { template.contains(s) }
        if has("<|im_start|>") {
            return has("<|im_sep|>") ? .phi4 : has("<end_of_utterance>") ? .smolvlm : .chatml
        } else if template.hasPrefix("mistral") || has("[INST]") {
            if has("[SYSTEM_PROMPT]") { return .mistralV7 }
            if has("' [INST] ' + system_message") || has("[AVAILABLE_TOOLS]") {
                if has(" [INST]") { return .mistralV1 }
                if has("\"[INST]\"") { return .mistralV3Tekken }
                return .mistralV3
            }
            if has("content.strip()") { return .llama2SysStrip }
            if has("bos_token + '[INST]") { return .llama2SysBOS }
            if has("<<SYS>>") { return .llama2Sys }
            return .llama2
        } else if has("<|assistant|>") && has("<|end|>") {
            return .phi3
        } else if has("[gMASK]<sop>") {
            return .chatglm4
        } else if has("<|assistant|>") && has("<|user|>") {
            if has("<|tool_declare|>") { return nil }  // exaone-moe: not implemented here
            return has("</s>") ? .falcon3 : .glmedge
        } else if has("<|{{ item['role'] }}|>") && has("<|begin_of_image|>") {
            return .glmedge
        } else if has("<|user|>") && has("<|endoftext|>") {
            return .zephyr
        } else if has("bos_token + message['role']") {
            return .monarch
        } else if has("<start_of_turn>") {
            return .gemma
        } else if has("'\\n\\nAssistant: ' + eos_token") {
            return .orion
        } else if has("GPT4 Correct ") {
            return .openchat
        } else if has("USER: ") && has("ASSISTANT: ") {
            return has("SYSTEM: ") ? .vicunaOrca : .vicuna
        } else if has("### Instruction:") && has("<|EOT|>") {
            return .deepseek
        } else if has("<|START_OF_TURN_TOKEN|>") && has("<|USER_TOKEN|>") {
            return .commandR
        } else if has("<|start_header_id|>") && has("<|end_header_id|>") {
            return .llama3
        } else if has("[gMASK]sop") {
            return .chatglm3
        } else if has("<用户>") {
            return .minicpm
        } else if has("'Assistant: ' + message['content'] + eos_token") {
            return .deepseek2
        } else if has("<｜Assistant｜>") && has("<｜User｜>") && has("<｜end▁of▁sentence｜>") {
            return .deepseek3
        } else if has("[|system|]") && has("[|assistant|]") && has("[|endofturn|]") {
            return has("[|tool|]") ? nil : .exaone3  // exaone4: not implemented here
        } else if has("<|start_of_role|>") {
            return has("<tool_call>") || has("<tools>") ? nil : .granite  // granite 4: not implemented here
        } else if has("<|header_start|>") && has("<|header_end|>") {
            return .llama4
        } else if has("<|start|>") && has("<|channel|>") {
            return .gptOSS
        }
        return nil
    }

    /// llama.cpp's `trim`: ASCII whitespace off both ends.
    static func trim(_ s: String) -> String {
        let b = Array(s.utf8)
        func space(_ c: UInt8) -> Bool { c == 0x20 || (c >= 0x09 && c <= 0x0D) }
        var lo = 0, hi = b.count
        while lo < hi && space(b[lo]) { lo += 1 }
        while hi > lo && space(b[hi - 1]) { hi -= 1 }
        return String(decoding: b[lo ..< hi], as: UTF8.self)
    }

    /// Writes `messages` in this family's format, with the assistant's opening when
    /// `addAssistantPrompt` (for the families that have one).
    public func apply(_ messages: [(role: String, content: String)], addAssistantPrompt add: Bool) -> String {
        var s = ""
        switch self {
        case .chatml:
            for m in messages { s += "<|im_start|>\(m.role)\n\(m.content)<|im_end|>\n" }
            if add { s += "<|im_start|>assistant\n" }
        case .mistralV7, .mistralV7Tekken:
            let sp = self == .mistralV7 ? " " : ""
            for m in messages {
                switch m.role {
                case "system": s += "[SYSTEM_PROMPT]\(sp)\(m.content)[/SYSTEM_PROMPT]"
                case "user": s += "[INST]\(sp)\(m.content)[/INST]"
                default: s += "\(sp)\(m.content)</s>"
                }
            }
        case .mistralV1, .mistralV3, .mistralV3Tekken:
            let lead = self == .mistralV1 ? " " : "", trail = self == .mistralV3Tekken ? "" : " "
            var inside = false
            for m in messages {
                if !inside { s += "\(lead)[INST]\(trail)"; inside = true }
                switch m.role {
                case "system": s += "\(m.content)\n\n"
                case "user": s += "\(m.content)\(lead)[/INST]"
                default:
                    s += trail + (self == .mistralV3 ? Self.trim(m.content) : m.content) + "</s>"
                    inside = false
                }
            }
        case .llama2, .llama2Sys, .llama2SysBOS, .llama2SysStrip:
            var inside = true
            s += "[INST] "
            for m in messages {
                let content = self == .llama2SysStrip ? Self.trim(m.content) : m.content
                if !inside { inside = true; s += self == .llama2SysBOS ? "<s>[INST] " : "[INST] " }
                switch m.role {
                case "system": s += self == .llama2 ? "\(content)\n" : "<<SYS>>\n\(content)\n<</SYS>>\n\n"
                case "user": s += "\(content) [/INST]"
                default: s += "\(content)</s>"; inside = false
                }
            }
        case .phi3:
            for m in messages { s += "<|\(m.role)|>\n\(m.content)<|end|>\n" }
            if add { s += "<|assistant|>\n" }
        case .phi4:
            for m in messages { s += "<|im_start|>\(m.role)<|im_sep|>\(m.content)<|im_end|>" }
            if add { s += "<|im_start|>assistant<|im_sep|>" }
        case .falcon3:
            for m in messages { s += "<|\(m.role)|>\n\(m.content)\n" }
            if add { s += "<|assistant|>\n" }
        case .zephyr:
            for m in messages { s += "<|\(m.role)|>\n\(m.content)<|endoftext|>\n" }
            if add { s += "<|assistant|>\n" }
        case .monarch:
            for (i, m) in messages.enumerated() { s += (i == 0 ? "" : "<s>") + "\(m.role)\n\(m.content)</s>\n" }
            if add { s += "<s>assistant\n" }
        case .gemma:
            var system = ""
            for m in messages {
                if m.role == "system" { system += Self.trim(m.content); continue }
                let role = m.role == "assistant" ? "model" : m.role
                s += "<start_of_turn>\(role)\n"
                if !system.isEmpty && role != "model" { s += "\(system)\n\n"; system = "" }
                s += "\(Self.trim(m.content))<end_of_turn>\n"
            }
            if add { s += "<start_of_turn>model\n" }
        case .orion:
            var system = ""
            for m in messages {
                switch m.role {
                case "system": system += m.content
                case "user":
                    s += "Human: "
                    if !system.isEmpty { s += "\(system)\n\n"; system = "" }
                    s += "\(m.content)\n\nAssistant: </s>"
                default: s += "\(m.content)</s>"
                }
            }
        case .openchat:
            for m in messages {
                if m.role == "system" {
                    s += "\(m.content)<|end_of_turn|>"
                } else {
                    s += "GPT4 Correct \(m.role.prefix(1).uppercased() + m.role.dropFirst()): \(m.content)<|end_of_turn|>"
                }
            }
            if add { s += "GPT4 Correct Assistant:" }
        case .vicuna, .vicunaOrca:
            for m in messages {
                switch m.role {
                case "system": s += self == .vicunaOrca ? "SYSTEM: \(m.content)\n" : "\(m.content)\n\n"
                case "user": s += "USER: \(m.content)\n"
                case "assistant": s += "ASSISTANT: \(m.content)</s>\n"
                default: break
                }
            }
            if add { s += "ASSISTANT:" }
        case .deepseek:
            for m in messages {
                switch m.role {
                case "system": s += m.content
                case "user": s += "### Instruction:\n\(m.content)\n"
                case "assistant": s += "### Response:\n\(m.content)\n<|EOT|>\n"
                default: break
                }
            }
            if add { s += "### Response:\n" }
        case .commandR:
            let tags = ["system": "<|SYSTEM_TOKEN|>", "user": "<|USER_TOKEN|>", "assistant": "<|CHATBOT_TOKEN|>"]
            for m in messages {
                if let tag = tags[m.role] { s += "<|START_OF_TURN_TOKEN|>\(tag)\(Self.trim(m.content))<|END_OF_TURN_TOKEN|>" }
            }
            if add { s += "<|START_OF_TURN_TOKEN|><|CHATBOT_TOKEN|>" }
        case .llama3:
            for m in messages { s += "<|start_header_id|>\(m.role)<|end_header_id|>\n\n\(Self.trim(m.content))<|eot_id|>" }
            if add { s += "<|start_header_id|>assistant<|end_header_id|>\n\n" }
        case .chatglm3:
            s += "[gMASK]sop"
            for m in messages { s += "<|\(m.role)|>\n \(m.content)" }
            if add { s += "<|assistant|>" }
        case .chatglm4:
            s += "[gMASK]<sop>"
            for m in messages { s += "<|\(m.role)|>\n\(m.content)" }
            if add { s += "<|assistant|>\n" }
        case .glmedge:
            for m in messages { s += "<|\(m.role)|>\n\(m.content)" }
            if add { s += "<|assistant|>" }
        case .minicpm:
            for m in messages { s += m.role == "user" ? "<用户>\(Self.trim(m.content))<AI>" : Self.trim(m.content) }
        case .deepseek2:
            for m in messages {
                switch m.role {
                case "system": s += "\(m.content)\n\n"
                case "user": s += "User: \(m.content)\n\n"
                case "assistant": s += "Assistant: \(m.content)<｜end▁of▁sentence｜>"
                default: break
                }
            }
            if add { s += "Assistant:" }
        case .deepseek3:
            for m in messages {
                switch m.role {
                case "system": s += "\(m.content)\n\n"
                case "user": s += "<｜User｜>\(m.content)"
                case "assistant": s += "<｜Assistant｜>\(m.content)<｜end▁of▁sentence｜>"
                default: break
                }
            }
            if add { s += "<｜Assistant｜>" }
        case .exaone3:
            for m in messages {
                switch m.role {
                case "system": s += "[|system|]\(Self.trim(m.content))[|endofturn|]\n"
                case "user": s += "[|user|]\(Self.trim(m.content))\n"
                case "assistant": s += "[|assistant|]\(Self.trim(m.content))[|endofturn|]\n"
                default: break
                }
            }
            if add { s += "[|assistant|]" }
        case .granite:
            for m in messages {
                s += "<|start_of_role|>\(m.role)<|end_of_role|>"
                if m.role == "assistant_tool_call" { s += "<|tool_call|>" }
                s += "\(m.content)<|end_of_text|>\n"
            }
            if add { s += "<|start_of_role|>assistant<|end_of_role|>" }
        case .llama4:
            for m in messages { s += "<|header_start|>\(m.role)<|header_end|>\n\n\(Self.trim(m.content))<|eot|>" }
            if add { s += "<|header_start|>assistant<|header_end|>\n\n" }
        case .smolvlm:
            s += "<|im_start|>"
            for m in messages {
                switch m.role {
                case "system": s += "\(m.content)\n\n"
                case "user": s += "User: \(m.content)<end_of_utterance>\n"
                default: s += "Assistant: \(m.content)<end_of_utterance>\n"
                }
            }
            if add { s += "Assistant:" }
        case .gptOSS:
            for m in messages {
                s += "<|start|>\(m.role)<|message|>\(m.content)" + (m.role == "assistant" ? "<|return|>" : "<|end|>")
            }
            if add { s += "<|start|>assistant" }
        }
        return s
    }
}

extension Tokenizer {
    /// The chat family of this model's `tokenizer.chat_template`, if recognised.
    public var chatTemplateFamily: ChatTemplate? { chatTemplate.flatMap(ChatTemplate.detect) }

    /// `messages` formatted for this model as `llama_chat_apply_template` formats them with
    /// the model's own template (`tokenizer.chat_template`), recognised by family (chatml for
    /// SmolLM2 and Qwen2.5, gemma, llama3, llama2, phi3, ...). Encode the result with
    /// `parseSpecial: true` so the markup becomes control tokens.
    ///
    /// Throws when the model has no chat template or its family is not one llama.cpp knows.
    public func applyChatTemplate(_ messages: [(role: String, content: String)],
                                  addAssistantPrompt: Bool) throws -> String {
        guard let template = chatTemplate else {
            throw QuantKitError("the model has no chat template (tokenizer.chat_template missing)")
        }
        guard let family = ChatTemplate.detect(template) else {
            throw QuantKitError("unsupported chat template: no known chat format (chatml, gemma, llama3, llama2, phi3, ...) recognised in tokenizer.chat_template")
        }
        return family.apply(messages, addAssistantPrompt: addAssistantPrompt)
    }
}
