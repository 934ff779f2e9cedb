@echo off
rem kubectl's plugin completion on Windows: kubectl runs this with the words
rem typed so far; the plugin answers through cobra's hidden __complete command.
kubectl-waypoint.exe __complete %*
