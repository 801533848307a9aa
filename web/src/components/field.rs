//! Labelled form fields that report their text as it is typed.

use web_sys::{HtmlInputElement, HtmlSelectElement};
use yew::prelude::*;

#[derive(Properties, PartialEq)]
pub struct TextFieldProps {
    pub id: AttrValue,
    pub label: AttrValue,
    pub value: AttrValue,
    pub oninput: Callback<String>,
    /// Shown under the field (in red) when its value is rejected.
    #[prop_or_default]
    pub error: Option<String>,
    #[prop_or_default]
    pub hint: Option<AttrValue>,
    #[prop_or_default]
    pub wide: bool,
}

#[function_component(TextField)]
pub fn text_field(props: &TextFieldProps) -> Html {
    let oninput = {
        let cb = props.oninput.clone();
        Callback::from(move |e: InputEvent| cb.emit(e.target_unchecked_into::<HtmlInputElement>().value()))
    };
    let invalid = props.error.is_some();
    html! {
        <label class={classes!("field", props.wide.then_some("wide"), invalid.then_some("invalid"))}>
            <span class="label">{ props.label.clone() }</span>
            <input id={props.id.clone()} type="text" spellcheck="false" autocomplete="off"
                value={props.value.clone()} {oninput} aria-invalid={invalid.to_string()} />
            if let Some(hint) = &props.hint { <span class="hint">{ hint.clone() }</span> }
            if let Some(err) = &props.error { <span class="error" role="alert">{ err.clone() }</span> }
        </label>
    }
}

#[derive(Properties, PartialEq)]
pub struct SelectFieldProps {
    pub id: AttrValue,
    pub label: AttrValue,
    /// (value, label) pairs.
    pub options: Vec<(String, String)>,
    pub value: AttrValue,
    pub onchange: Callback<String>,
    /// A line under the menu (e.g. what the chosen option means).
    #[prop_or_default]
    pub hint: Option<AttrValue>,
}

#[function_component(SelectField)]
pub fn select_field(props: &SelectFieldProps) -> Html {
    let onchange = {
        let cb = props.onchange.clone();
        Callback::from(move |e: Event| cb.emit(e.target_unchecked_into::<HtmlSelectElement>().value()))
    };
    html! {
        <label class="field">
            <span class="label">{ props.label.clone() }</span>
            <select id={props.id.clone()} {onchange}>
                { for props.options.iter().map(|(v, l)| html! {
                    <option value={v.clone()} selected={*v == props.value.as_str()}>{ l.clone() }</option>
                }) }
            </select>
            if let Some(hint) = &props.hint { <span class="hint">{ hint.clone() }</span> }
        </label>
    }
}
