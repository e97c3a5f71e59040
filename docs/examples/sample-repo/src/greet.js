var greeting = "Hello"
function greet(name){
    var message = greeting+", "+name+"!"
  return message
}
module.exports = { greet }
