// The console's only script: live recipient count and previews while composing,
// and the progress bar of a broadcast being sent (polling every second).
"use strict";

function composeForm(form) {
  const text = form.querySelector("#text");
  const count = document.getElementById("recipient-count");
  let timer = null;
  function refreshCount() {
    const params = new URLSearchParams();
    for (const input of form.querySelectorAll("input[type=checkbox]:checked")) params.append(input.name, input.value);
    fetch(form.dataset.countUrl + "?" + params.toString(), { credentials: "same-origin" })
      .then((r) => (r.ok ? r.json() : Promise.reject(r.status)))
      .then((data) => { count.textContent = data.text; })
      .catch(() => { count.textContent = "không đếm được"; });
  }
  function refreshPreview() {
    for (const figure of form.querySelectorAll(".preview")) {
      figure.querySelector(".preview-text").textContent = text.value;
      const bubble = figure.querySelector(".bubble").textContent.length;
      const chars = figure.querySelector(".chars");
      chars.textContent = "(" + bubble + "/" + figure.dataset.limit + " ký tự)";
      chars.classList.toggle("over", bubble > Number(figure.dataset.limit));
    }
  }
  form.addEventListener("change", () => { clearTimeout(timer); timer = setTimeout(refreshCount, 150); });
  text.addEventListener("input", refreshPreview);
  refreshCount();
  refreshPreview();
}

function progressCard(card) {
  if (card.dataset.finished === "true") return;
  const poll = () => fetch(card.dataset.progressUrl, { credentials: "same-origin" })
    .then((r) => r.json())
    .then((p) => {
      document.getElementById("bar").value = p.percent;
      document.getElementById("sent").textContent = p.sent;
      document.getElementById("total").textContent = p.total;
      document.getElementById("percent").textContent = p.percent;
      document.getElementById("status").textContent = p.status_label;
      if (p.finished) window.location.reload();
      else setTimeout(poll, 1000);
    })
    .catch(() => setTimeout(poll, 3000));
  setTimeout(poll, 1000);
}

document.addEventListener("DOMContentLoaded", () => {
  const form = document.getElementById("compose");
  if (form) composeForm(form);
  const card = document.getElementById("progress-card");
  if (card) progressCard(card);
});
