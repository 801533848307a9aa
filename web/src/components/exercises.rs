//! "Predict, then check": the student types an answer, then sees whether it was right and why.

use lmlab::exercise::Exercise;
use web_sys::HtmlInputElement;
use yew::prelude::*;

#[derive(Properties, PartialEq)]
pub struct ExercisesProps {
    pub exercises: Vec<Exercise>,
}

#[function_component(Exercises)]
pub fn exercises(props: &ExercisesProps) -> Html {
    html! {
        <section class="exercises">
            <h2>{"Predict, then check"}</h2>
            <p class="hint">{"Write down your guess before you look at the lab's numbers."}</p>
            <ol>
                { for props.exercises.iter().map(|e| html! { <ExerciseItem key={e.id} exercise={e.clone()} /> }) }
            </ol>
        </section>
    }
}

#[derive(Properties, PartialEq)]
struct ItemProps {
    exercise: Exercise,
}

#[function_component(ExerciseItem)]
fn exercise_item(props: &ItemProps) -> Html {
    let answer = use_state(String::new);
    let verdict = use_state(|| None::<Result<lmlab::exercise::Verdict, String>>);
    let e = &props.exercise;
    let oninput = {
        let answer = answer.clone();
        Callback::from(move |ev: InputEvent| answer.set(ev.target_unchecked_into::<HtmlInputElement>().value()))
    };
    let check = {
        let answer = answer.clone();
        let verdict = verdict.clone();
        let exercise = e.clone();
        move || verdict.set(Some(exercise.check(&answer).map_err(|err| err.to_string())))
    };
    let onclick = {
        let check = check.clone();
        Callback::from(move |_| check())
    };
    let onkeydown = Callback::from(move |ev: KeyboardEvent| {
        if ev.key() == "Enter" {
            check()
        }
    });
    html! {
        <li class="exercise" id={format!("exercise-{}", e.id)} data-exercise={e.id}>
            <p class="question">{ e.question }</p>
            <div class="answer-row">
                <input type="text" class="answer" placeholder={if e.unit.is_empty() { "your answer".to_string() } else { format!("your answer ({})", e.unit) }}
                    value={(*answer).clone()} {oninput} {onkeydown} />
                <button class="check" {onclick}>{"Check"}</button>
            </div>
            { match &*verdict {
                None => html! {},
                Some(Err(msg)) => html! { <p class="verdict error" role="alert">{ msg }</p> },
                Some(Ok(v)) => html! {
                    <div class={classes!("verdict", if v.correct { "right" } else { "wrong" })}>
                        <p class="message">{ &v.message }</p>
                        <p class="explanation">{ e.explanation }</p>
                    </div>
                },
            } }
        </li>
    }
}
