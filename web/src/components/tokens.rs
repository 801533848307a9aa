//! Tokens drawn as colored spans with visible whitespace, as tiktokenizer shows them.

use lmlab::tokenize::Tokenizer;
use yew::prelude::*;

/// Pastel backgrounds cycled over tokens so neighbours differ.
const TOKEN_COLORS: [&str; 6] = ["#dbeafe", "#fde68a", "#bbf7d0", "#fbcfe8", "#ddd6fe", "#fed7aa"];

/// What a token looks like on screen: its text with whitespace made visible, or its bytes when
/// it is not valid UTF-8 on its own (a piece of "世").
pub fn visible(bytes: &[u8]) -> String {
    match std::str::from_utf8(bytes) {
        Ok(s) => s
            .chars()
            .map(|c| match c {
                ' ' => '·',
                '\n' => '↵',
                '\t' => '→',
                '\r' => '␍',
                c => c,
            })
            .collect(),
        Err(_) => bytes.iter().map(|b| format!("<{b:02X}>")).collect(),
    }
}

#[derive(Properties, PartialEq)]
pub struct TokenSpansProps {
    /// (id, bytes) per token.
    pub tokens: Vec<(u32, Vec<u8>)>,
    /// Ids to highlight (e.g. tokens a merge just created).
    #[prop_or_default]
    pub highlight: Vec<u32>,
}

#[function_component(TokenSpans)]
pub fn token_spans(props: &TokenSpansProps) -> Html {
    html! {
        <div class="token-spans">
            { for props.tokens.iter().enumerate().map(|(i, (id, bytes))| {
                let hot = props.highlight.contains(id);
                html! {
                    <span class={classes!("token", hot.then_some("hot"))} data-id={id.to_string()} title={format!("id {id}")}
                        style={format!("background:{}", TOKEN_COLORS[i % TOKEN_COLORS.len()])}>{ visible(bytes) }</span>
                }
            }) }
        </div>
    }
}

/// Encodes `text` and pairs each id with its bytes.
pub fn tokens_of(t: &dyn Tokenizer, text: &str) -> Vec<(u32, Vec<u8>)> {
    t.encode(text).into_iter().map(|id| (id, t.token_bytes(id).unwrap_or_default())).collect()
}
