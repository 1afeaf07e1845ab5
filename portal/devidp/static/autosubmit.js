// Send the SAML Response on without a click; the visible Continue button covers JavaScript off.
document.addEventListener("DOMContentLoaded", function () {
  var form = document.querySelector("form[data-auto-submit]");
  if (form) {
    form.submit();
  }
});
