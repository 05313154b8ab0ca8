#!/usr/bin/env python3
"""Drives the kvmsnap web panel in headless Chromium (Debian's chromium + chromium-driver, Selenium).

Run by IntegrationTests/PanelBrowserTests.swift with PANEL_URL, PANEL_TOKEN, PANEL_VM, PANEL_CONSOLE
(the guest's console log) and PANEL_SHOTS (where the screenshots go). It logs in, creates a snapshot
from the VM page, waits until the guest has counted on, types a wrong VM name in the restore dialog
(the button must stay disabled), then the right one, and waits for every stage to complete. Then it
sends the snapshot to the vault PANEL_VAULT and drills it from the VM page, saves a retention policy
(live preview first) and prunes with it, and checks that the overview shows the vault copy and the drill.
Exit status 0 when every check held; the Swift test then checks the guest's counter.
"""
import os
import re
import sys
import time

from selenium import webdriver
from selenium.common.exceptions import TimeoutException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import Select, WebDriverWait

url, token, vm = os.environ["PANEL_URL"], os.environ["PANEL_TOKEN"], os.environ["PANEL_VM"]
console, shots = os.environ["PANEL_CONSOLE"], os.environ["PANEL_SHOTS"]
snapshot = os.environ.get("PANEL_SNAPSHOT", "from-browser")
vault = os.environ["PANEL_VAULT"]
os.makedirs(shots, exist_ok=True)


def counter():
    try:
        values = re.findall(r"counter=(\d+)", open(console, errors="replace").read())
    except OSError:
        return None
    return int(values[-1]) if values else None


def check(condition, message):
    if not condition:
        print("FAILED: " + message, file=sys.stderr)
        sys.exit(1)


options = webdriver.ChromeOptions()
options.binary_location = "/usr/bin/chromium"
for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu", "--window-size=1280,900"):
    options.add_argument(argument)
driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
wait = WebDriverWait(driver, 60)
try:
    # Without a session every page leads to the login page.
    driver.get(url + "/vms/" + vm)
    check(driver.current_url.endswith("/login"), "a page without a session did not redirect to /login")
    driver.find_element(By.ID, "token").send_keys("wrong-token")
    driver.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    check("Wrong token" in driver.page_source, "a wrong token was not refused")
    driver.find_element(By.ID, "token").send_keys(token)
    driver.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    wait.until(EC.presence_of_element_located((By.CSS_SELECTOR, "#content table")))
    check(vm in driver.find_element(By.ID, "content").text, "the overview does not list the VM")
    driver.save_screenshot(os.path.join(shots, "overview.png"))

    # The VM page: create a snapshot through the form.
    driver.find_element(By.LINK_TEXT, vm).click()
    wait.until(EC.presence_of_element_located((By.ID, "create-name")))
    driver.find_element(By.ID, "create-name").send_keys(snapshot)
    driver.find_element(By.ID, "create-description").send_keys("taken in the browser test")
    driver.find_element(By.ID, "create-submit").click()
    row = wait.until(EC.presence_of_element_located((By.CSS_SELECTOR, 'tr[data-snapshot="%s"]' % snapshot)))
    taken = counter()
    check(taken is not None, "the guest prints no counter")
    check("ready" in row.text, "the new snapshot is not ready: " + row.text)
    driver.save_screenshot(os.path.join(shots, "vm-page.png"))

    # Let the guest count on, so the restore is visible in its counter.
    deadline = time.time() + 60
    while (counter() or 0) < taken + 5 and time.time() < deadline:
        time.sleep(0.5)
    check((counter() or 0) >= taken + 5, "the guest stopped counting")

    # The restore dialog: the button stays disabled until the exact VM name is typed.
    row.find_element(By.XPATH, ".//button[normalize-space()='Restore…']").click()
    box = wait.until(EC.visibility_of_element_located((By.ID, "restore-dialog")))
    check("Changes since" in box.text, "the dialog does not say what will be lost")
    check(box.find_element(By.ID, "restore-memory").text.startswith("yes"), "the dialog does not say memory is restored")
    field, button = driver.find_element(By.ID, "restore-confirm"), driver.find_element(By.ID, "restore-submit")
    for wrong in (vm.upper(), vm[:-1], vm + " "):
        field.clear()
        field.send_keys(wrong)
        check(not button.is_enabled(), "the restore button is enabled for the wrong name %r" % wrong)
    driver.save_screenshot(os.path.join(shots, "restore-dialog-wrong-name.png"))
    field.clear()
    field.send_keys(vm)
    check(button.is_enabled(), "the restore button stays disabled for the right name")
    button.click()
    WebDriverWait(driver, 300).until(lambda d: d.find_element(By.ID, "restore-result").get_attribute("class") in ("ok", "error"))
    result = driver.find_element(By.ID, "restore-result")
    stages = driver.find_elements(By.CSS_SELECTOR, "#restore-stages li")
    driver.save_screenshot(os.path.join(shots, "restore-dialog-done.png"))
    check(result.get_attribute("class") == "ok", "the restore failed: " + result.text)
    check(len(stages) == 6 and all(s.get_attribute("class") == "done" for s in stages),
          "not every stage shows done: " + ", ".join("%s=%s" % (s.text, s.get_attribute("class")) for s in stages))
    driver.find_element(By.ID, "restore-cancel").click()
    driver.set_window_size(1440, 800)
    driver.get(url + "/vms/" + vm)
    wait.until(EC.presence_of_element_located((By.CSS_SELECTOR, "#content table")))
    driver.execute_script("document.querySelector('#content table').scrollIntoView()")
    driver.save_screenshot(os.path.join(shots, "vm-page-after-restore.png"))
    driver.set_window_size(1280, 900)

    # Send to vault and drill, from the snapshot's row; each runs as a job and shows its outcome.
    row = wait.until(EC.presence_of_element_located((By.CSS_SELECTOR, 'tr[data-snapshot="%s"]' % snapshot)))
    row.find_element(By.XPATH, ".//button[normalize-space()='Send to vault…']").click()
    wait.until(EC.visibility_of_element_located((By.ID, "send-dialog")))
    Select(driver.find_element(By.ID, "send-vault")).select_by_value(vault)
    driver.find_element(By.ID, "send-submit").click()
    WebDriverWait(driver, 300).until(lambda d: d.find_element(By.ID, "send-result").get_attribute("class") in ("ok", "error"))
    result = driver.find_element(By.ID, "send-result")
    check(result.get_attribute("class") == "ok" and ("%s holds %s" % (vault, snapshot)) in result.text, "the send failed: " + result.text)
    driver.save_screenshot(os.path.join(shots, "send-dialog-done.png"))
    driver.find_element(By.ID, "send-cancel").click()
    row = driver.find_element(By.CSS_SELECTOR, 'tr[data-snapshot="%s"]' % snapshot)
    row.find_element(By.XPATH, ".//button[normalize-space()='Drill…']").click()
    wait.until(EC.visibility_of_element_located((By.ID, "drill-dialog")))
    driver.find_element(By.ID, "drill-submit").click()
    WebDriverWait(driver, 400).until(lambda d: d.find_element(By.ID, "drill-result").get_attribute("class") in ("ok", "error"))
    result = driver.find_element(By.ID, "drill-result")
    check(result.get_attribute("class") == "ok" and result.text.startswith("Passed"), "the drill failed: " + result.text)
    check("running" in driver.find_element(By.ID, "drill-report").text, "the drill report lists no checks")
    driver.save_screenshot(os.path.join(shots, "drill-dialog-done.png"))
    driver.find_element(By.ID, "drill-cancel").click()

    # Retention: a live preview while editing, then save the policy; Prune now runs the saved one.
    driver.get(url + "/vms/" + vm + "/retention")
    wait.until(EC.presence_of_element_located((By.ID, "tier-keep-last")))
    check(not driver.find_element(By.ID, "prune-open").is_enabled(), "Prune now is enabled without a saved policy")
    for field, value in (("keep-last", "1"), ("keep-daily", "7")):
        box = driver.find_element(By.ID, "tier-" + field)
        box.clear()
        box.send_keys(value)
    check(not driver.find_element(By.ID, "prune-open").is_enabled(), "Prune now is enabled while the policy is not saved")
    wait.until(EC.text_to_be_present_in_element((By.ID, "retention-summary"), "kept"))
    rows = driver.find_elements(By.CSS_SELECTOR, "#retention-preview tbody tr")
    check(any(snapshot in r.text for r in rows), "the preview does not list the snapshots")
    driver.find_element(By.ID, "policy-save").click()
    wait.until(EC.text_to_be_present_in_element((By.ID, "status"), "Saved"))
    wait.until(EC.text_to_be_present_in_element((By.ID, "policy-source"), "own"))
    check(driver.find_element(By.ID, "prune-open").is_enabled(), "Prune now stays disabled after saving")
    wait.until(EC.text_to_be_present_in_element((By.ID, "retention-summary"), "kept"))
    driver.save_screenshot(os.path.join(shots, "retention-preview.png"))
    driver.find_element(By.ID, "prune-open").click()
    wait.until(EC.visibility_of_element_located((By.ID, "prune-dialog")))
    named = re.search(r"deletes (\d+) snapshot\(s\): (.*)\.", driver.find_element(By.ID, "prune-dialog").text)
    check(named is not None and int(named.group(1)) > 0,
          "the prune dialog does not name what it deletes: " + driver.find_element(By.ID, "prune-dialog").text)
    field, button = driver.find_element(By.ID, "prune-confirm"), driver.find_element(By.ID, "prune-submit")
    field.send_keys(vm.upper())
    check(not button.is_enabled(), "the prune button is enabled for a wrong name")
    field.clear()
    field.send_keys(vm)
    check(button.is_enabled(), "the prune button stays disabled for the right name")
    button.click()
    WebDriverWait(driver, 300).until(lambda d: d.find_element(By.ID, "prune-result").get_attribute("class") in ("ok", "error"))
    result = driver.find_element(By.ID, "prune-result")
    check(result.get_attribute("class") == "ok" and ("Pruned %s: %s." % named.groups()) in result.text,
          "the prune failed or deleted other snapshots than it named (%s): %s" % (named.group(2), result.text))
    driver.save_screenshot(os.path.join(shots, "prune-dialog-done.png"))
    driver.find_element(By.ID, "prune-cancel").click()

    for page in ("storage", "jobs"):
        driver.get(url + "/" + page)
        wait.until(EC.presence_of_element_located((By.CSS_SELECTOR, "#content table")))
        driver.save_screenshot(os.path.join(shots, page + ".png"))
    driver.set_window_size(390, 844)  # a phone
    driver.get(url + "/vms/" + vm)
    wait.until(EC.presence_of_element_located((By.CSS_SELECTOR, "#content table")))
    driver.save_screenshot(os.path.join(shots, "vm-page-phone.png"))

    # The overview now shows the vault's copy and the drill.
    driver.set_window_size(1440, 800)
    driver.get(url + "/")
    wait.until(EC.presence_of_element_located((By.CSS_SELECTOR, "#content table")))
    overview = driver.find_element(By.CSS_SELECTOR, 'tr[data-vm="%s"]' % vm).text
    check(("in " + vault) in overview and "passed" in overview, "the overview shows no vault usage or drill: " + overview)
    driver.find_element(By.TAG_NAME, "body").screenshot(os.path.join(shots, "overview-after.png"))  # the page, not the empty window
    print("browser checks passed")
except TimeoutException:
    # What the page showed when a wait ran out (an API error is in #status or #content).
    texts = [e.text for e in driver.find_elements(By.CSS_SELECTOR, "#status, #content, dialog[open]")]
    print("FAILED: a wait timed out at %s; the page showed: %s" % (driver.current_url, " | ".join(texts)[:2000]), file=sys.stderr)
    driver.save_screenshot(os.path.join(shots, "timeout.png"))
    raise
finally:
    driver.quit()
